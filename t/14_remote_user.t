# EntraRemoteUserClaim: first claim present wins; per-directory override.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use EntraTest;

my $vh = 'entra_multiclaim';     # EntraRemoteUserClaim upn email preferred_username

sub user_after_sign_in {
    my ($vhost, $path) = @_;
    my $final = sign_in(new_ua(), $vhost, $path // '/app/who');
    return ($final->code, scalar echo_header(echo($final) || {}, 'X-Test-Remote-User'));
}

mock_reset();
my ($code, $user) = user_after_sign_in($vh);
is($code, 200, 'no upn: signed in');
is($user, USER->{email}, '... REMOTE_USER = email (upn absent, email next)');

mock_reset();
mock_config({ user => { upn => 'adele.upn@contoso.test' } });
($code, $user) = user_after_sign_in($vh);
is($code, 200, 'with upn: signed in');
is($user, 'adele.upn@contoso.test', '... REMOTE_USER = upn (first in the list)');

mock_reset();
mock_config({ user => { email => undef } });
($code, $user) = user_after_sign_in($vh);
is($code, 200, 'no upn, no email: signed in');
is($user, USER->{preferred_username}, '... REMOTE_USER = preferred_username (last in the list)');

# none of the claims: no REMOTE_USER can be set -> refused, not served, no 500
mock_reset();
mock_config({ user => { email => undef, preferred_username => undef } });
my $mark = log_mark();
my $final = sign_in(new_ua(), $vh, '/app/who');
is($final->code, 401, 'none of the claims present: 401 (no anonymous access)')
    or diag($final->status_line . ' for ' . $final->request->uri);
ok(scalar(grep { /ENTRA00403:.*none of the EntraRemoteUserClaim claims/ } entra_problems($mark)),
   '... and a log line says why (ENTRA00403)') or diag(join "\n", entra_lines($mark));
mock_reset();

# per-directory: /app/by-oid on entra_main says EntraRemoteUserClaim oid
my $ua = new_ua();
$final = sign_in($ua, 'entra_main', '/app/by-oid/x');
is($final->code, 200, 'entra_main: signed in');
is(scalar echo_header(echo($final) || {}, 'X-Test-Remote-User'), USER->{oid}, '<Location> EntraRemoteUserClaim oid: REMOTE_USER = oid');
my $r = $ua->get(url('entra_main', '/app/elsewhere'));
is(scalar echo_header(echo($r) || {}, 'X-Test-Remote-User'), USER->{preferred_username},
   'same session elsewhere: REMOTE_USER = preferred_username (vhost default)');

done_testing();
