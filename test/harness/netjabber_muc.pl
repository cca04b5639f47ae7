#!/usr/bin/perl
# Drives Rohrpost's multi-user chat with Debian's libnet-jabber-perl (Net::Jabber)
# for the end-to-end tests: logs in with jabber:iq:auth over direct TLS, joins a room
# the groupchat 1.0 way (a bare presence to room/nick, no MUC <x/>), waits for its
# own presence from the room, sends one groupchat message and waits for the echo.
# Usage: netjabber_muc.pl '<json options>'
# Options: host, port, cafile, domain, user, password, room, nick, body, wait.
# Prints one JSON line with what happened.
use strict;
use warnings;
use JSON::PP;
use Net::Jabber qw(Client);

my $opts = decode_json($ARGV[0]);
my $wait = $opts->{wait} || 10;
my $room = $opts->{room};
my $me = "$room/$opts->{nick}";
my %out = (joined => JSON::PP::false, echo => JSON::PP::false);
$| = 1;

sub finish {
  print encode_json(\%out), "\n";
  exit 0;
}

my $client = Net::Jabber::Client->new();
$client->SetCallBacks(
  presence => sub {
    my (undef, $p) = @_;
    $out{joined} = JSON::PP::true if $p->GetFrom() eq $me && ($p->GetType() // '') ne 'error';
    $out{join_error} = $p->GetErrorCode() if $p->GetFrom() eq $me && ($p->GetType() // '') eq 'error';
  },
  message => sub {
    my (undef, $m) = @_;
    return unless ($m->GetType() // '') eq 'groupchat' && ($m->GetBody() // '') eq $opts->{body};
    $out{echo} = JSON::PP::true;
    $out{echo_from} = $m->GetFrom();
  },
);

my $status = $client->Connect(hostname => $opts->{host}, port => $opts->{port}, componentname => $opts->{domain},
  ssl => 1, ssl_verify => 0x01, ssl_ca_path => $opts->{cafile}, timeout => 10);
unless (defined $status) {
  $out{error} = 'connect: ' . ($client->GetErrorCode() // 'unknown');
  finish();
}
my @auth = $client->AuthIQAuth(username => $opts->{user}, password => $opts->{password}, resource => 'Legacy');
if ($auth[0] ne 'ok') {
  $out{error} = 'auth: ' . join(' ', map { $_ // '' } @auth);
  $client->Disconnect();
  finish();
}
$client->PresenceSend();

# Groupchat 1.0: nothing but a presence to the occupant JID.
$client->PresenceSend(to => $me);
my $deadline = time + $wait;
while (!$out{joined} && !defined $out{join_error} && time < $deadline) {
  last unless defined $client->Process(1);
}
if ($out{joined}) {
  $client->MessageSend(to => $room, type => 'groupchat', body => $opts->{body});
  $deadline = time + $wait;
  while (!$out{echo} && time < $deadline) {
    last unless defined $client->Process(1);
  }
}
$client->Disconnect();
finish();
