# A user in 1,000 groups (overage, resolved through Graph) signs in with the
# default cookie store: the session keeps the groups the configuration's
# Require lines name, Require entra-group is right for every one of them
# (negated too), and the backend is told its list is partial.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use EntraTest;
use EntraSessions;

my $vh = 'g_cookie';
sub gen { sprintf '5d0e9c1a-3b2f-4e6d-9a8c-7b6a5d4c%04d', shift }   # named in groups.conf.in
my $listed = '2f6a4c1e-0000-4000-8000-00000000a001';
# group object ids are random: they do not deflate away
srand(74);
my @random = map { random_guid($_) } 1 .. 1000;

mock_reset();
mock_config({ user => { groups => [$listed, @random[0 .. 399], gen(3500), @random[400 .. 699],
                                   gen(3700), @random[700 .. 999], gen(3900)] } });
my $ua = new_ua();
my $mark = log_mark();
my $r = sign_in($ua, $vh, '/app/first');
is($r->code, 200, 'a user in 1,004 groups signs in with the cookie store');
my @names = grep { /^entra_session/ } cookie_names($ua);
ok(@names <= 3, '... in at most two chunks (' . scalar(@names) . ' cookies)') or diag("@names");
my $h = echo_headers_norm(echo($r) || {});
my @groups = sort split /,/, join ',', @{ $h->{'x-entra-claim-groups'} || [] };
is_deeply(\@groups, [sort($listed, gen(3500), gen(3700), gen(3900))],
          '... the backend gets the groups the Require lines name that the user is in');
like(join('', @{ $h->{'x-entra-claim-groups-partial'} || [] }), qr/^[0-9a-f]{16}$/,
     '... and X-Entra-Claim-groups-partial: <digest of the list it kept them by>');
ok(scalar(grep { /ENTRA00215:.*1004 groups.*keeps the 4 / } log_since($mark)), '... logged (ENTRA00215)');

is($ua->get(url($vh, '/app/listed/x'))->code, 200, 'Require entra-group <a listed group>: 200');
is($ua->get(url($vh, '/app/g500/x'))->code, 200, 'Require entra-group <one of the thousand>: 200');
is($ua->get(url($vh, '/app/none/x'))->code, 403, 'Require entra-group <a group the user is not in>: 403');
is($ua->get(url($vh, '/app/not-g700/x'))->code, 403, 'Require not entra-group <group 700, the user\'s>: 403');
is($ua->get(url($vh, '/app/not-none/x'))->code, 200, 'Require not entra-group <not the user\'s>: 200');
is($ua->get(url($vh, '/app/claim-g900/x'))->code, 200, 'Require entra-claim groups:<group 900>: 200');

# a user with few groups keeps them all, and no marker
mock_reset();
my $few = new_ua();
$r = sign_in($few, $vh, '/app/few');
$h = echo_headers_norm(echo($r) || {});
is_deeply([sort split /,/, join ',', @{ $h->{'x-entra-claim-groups'} || [] }], [sort @{ USER->{groups} }],
          'a user in two groups: both reach the backend');
ok(!$h->{'x-entra-claim-groups-partial'}, '... with no partial marker');
mock_reset();

done_testing();
