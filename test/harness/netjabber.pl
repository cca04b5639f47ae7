#!/usr/bin/perl
# Drives Rohrpost with Debian's libnet-jabber-perl (Net::Jabber), a 2002-era client
# library, for the end-to-end tests. Logs in with jabber:iq:auth (XEP-0078) over
# direct TLS, reads the roster, sends initial presence, sends one message, waits
# for one message, and prints what happened as KEY: value lines.
# Usage: netjabber.pl HOST PORT DOMAIN USER PASSWORD RESOURCE CAFILE TO BODY [WAIT_SECONDS]
use strict;
use warnings;
use Net::Jabber qw(Client);

my ($host, $port, $domain, $user, $password, $resource, $cafile, $to, $body, $wait) = @ARGV;
$wait ||= 10;
$| = 1;

my $client = Net::Jabber::Client->new();
my $got;
$client->SetCallBacks(message => sub {
  my (undef, $msg) = @_;
  return if defined $got;
  $got = 1;
  print 'GOT: ', $msg->GetFrom(), ' ', ($msg->GetBody() // ''), "\n";
});

my $status = $client->Connect(hostname => $host, port => $port, componentname => $domain,
  ssl => 1, ssl_verify => 0x01, ssl_ca_path => $cafile, timeout => 10);
unless (defined $status) {
  print 'ERROR: connect: ', ($client->GetErrorCode() // 'unknown'), "\n";
  exit 0;
}
print "CONNECTED\n";

my @auth = $client->AuthIQAuth(username => $user, password => $password, resource => $resource);
print 'AUTH: ', join(' ', map { $_ // '' } @auth), "\n";
if ($auth[0] ne 'ok') {
  $client->Disconnect();
  exit 0;
}

my %roster = $client->RosterGet();
print 'ROSTER: ', join(',', sort keys %roster), "\n";
$client->PresenceSend();
$client->MessageSend(to => $to, type => 'chat', body => $body);
print "SENT\n";

my $deadline = time + $wait;
while (!defined $got && time < $deadline) {
  last unless defined $client->Process(1);
}
print "TIMEOUT\n" unless defined $got;
$client->Disconnect();
print "DONE\n";
