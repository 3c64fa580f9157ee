# An expired session (EntraSessionMaxAge 60 on entra_shortsession) is no
# session: a new sign-in, not an error.  Uses the session t/10_signin.t
# opened when it is there; otherwise signs in now and waits the minute out.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use EntraTest;

my $vh = 'entra_shortsession';
mock_reset();

my ($t, $cookie) = read_expiry_session();
unless ($cookie) {
    my $r = prime_expiry_session();
    is($r->code, 200, 'signed in on entra_shortsession');
    ($t, $cookie) = read_expiry_session();
}
ok($cookie, 'have a session cookie from entra_shortsession') or BAIL_OUT('no session to expire');

my $raw = new_ua(no_cookies => 1);
if (time - $t < 50) {
    my $r = $raw->get(url($vh, '/app/expiry'), Cookie => "entra_session=$cookie");
    is($r->code, 200, 'before max age: the session works');
}
my $wait = $t + 62 - time;
if ($wait > 0) {
    diag(sprintf 'waiting %d s for the session to pass EntraSessionMaxAge 60', $wait);
    sleep $wait;
}
my $mark = log_mark();
my $r = $raw->get(url($vh, '/app/expiry'), Cookie => "entra_session=$cookie");
ok(is_login_redirect($r), 'after EntraSessionMaxAge: 302 to sign-in') or diag($r->status_line);
my @crit = grep { /\[auth_entra:(?:emerg|alert|crit|error)\]/ } log_since($mark);
is(scalar @crit, 0, 'an expired session is not an error in the log') or diag(join "\n", @crit);

# and a new sign-in works
is(sign_in(new_ua(), $vh, '/app/expiry')->code, 200, 'signing in again works');

done_testing();
