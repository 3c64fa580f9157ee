# A token whose kid is in no JWKS: one immediate refetch, then no more for a
# while (a flood of bad kids cannot hammer Entra); 401 each time.
# Runs on entra_kid (tenant contoso.test: its own JWKS URL).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use EntraTest;

my $vh = 'entra_kid';
mock_reset();
is(sign_in(new_ua(), $vh, '/app/kid0')->code, 200, 'entra_kid: signed in (JWKS cached)');
my $j0 = mock_stats()->{requests}{jwks};

mock_config({ bad_token => 'unknown_kid' });
my $mark = log_mark();
my ($final, $s) = sign_in(new_ua(), $vh, '/app/kid1');
is($s->{callback} && $s->{callback}->code, 401, 'unknown kid: 401');
ok(!find_set_cookie($s->{callback}, 'entra_session'), '... no session');
my $j1 = mock_stats()->{requests}{jwks};
is($j1 - $j0, 1, '... after exactly one immediate JWKS refetch');
my @l = entra_problems($mark);
ok(scalar(grep { /\bkid\b|key/i } @l), '... log line names the unknown key') or diag(join "\n", @l);

for my $n (2 .. 4) {
    ($final, $s) = sign_in(new_ua(), $vh, "/app/kid$n");
    is($s->{callback} && $s->{callback}->code, 401, "unknown kid again ($n): 401");
}
is(mock_stats()->{requests}{jwks}, $j1, '... and no further JWKS fetch (rate-limited)');

mock_reset();
is(sign_in(new_ua(), $vh, '/app/kid5')->code, 200, 'a good token right after: signed in');

done_testing();
