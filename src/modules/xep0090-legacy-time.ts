// Placeholder: being written. Loads and registers nothing yet.
import { defineModule } from '../router/module-api.js';

export default defineModule({
  name: 'legacy-time',
  load() {},
});
