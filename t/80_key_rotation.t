# Entra rolls its signing key: the module, which cached the old JWKS, fetches
# the keys once more on the unknown kid and signs the user in.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use EntraTest;

my $vh = 'entra_main';
mock_reset();

my $ua1 = new_ua();
is(sign_in($ua1, $vh, '/app/rot1')->code, 200, 'signed in with the current key (JWKS now cached)');
my $kid_before = mock_info()->{kid};
my $j0 = mock_stats()->{requests}{jwks};

my $rot = rotate_keys(keep_old => 0);
isnt($rot->{kid}, $kid_before, 'the mock signs with a new kid');
is_deeply($rot->{kids}, [$rot->{kid}], '... and publishes only the new key');

my $mark = log_mark();
my $ua2 = new_ua();
my ($final, $s) = sign_in($ua2, $vh, '/app/rot2');
is($s->{callback} && $s->{callback}->code, 302, 'token signed with the new key: callback succeeds');
is($final->code, 200, '... signed in');
my $j1 = mock_stats()->{requests}{jwks};
is($j1 - $j0, 1, 'the JWKS was fetched exactly once more');

# the old session does not depend on IdP keys
is($ua1->get(url($vh, '/app/rot1-again'))->code, 200, 'session opened before the rotation still works');

# the refreshed key set is cached: the next sign-in fetches nothing
is(sign_in(new_ua(), $vh, '/app/rot3')->code, 200, 'another sign-in with the new key');
is(mock_stats()->{requests}{jwks}, $j1, '... without another JWKS fetch');

my @bad = grep { /\[auth_entra:(?:emerg|alert|crit|error)\]/ } log_since($mark);
is(scalar @bad, 0, 'a key rollover is not an error in the log') or diag(join "\n", @bad);

done_testing();
