# Secrets wherever they are taken (EntraClientSecret, EntraSessionKey) come
# from Define / ${VAR}, from the environment through ${VAR}, and from file:
# (with a path made of a Define): each signs in.  A value that was not
# substituted would be the literal "${...}": the mock refuses that client
# secret, and a session key that short stops Apache.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use EntraTest;
use EntraStores;

mock_reset();

# Define + ${VAR} (the client secret quoted) and file:${VAR}/...
for my $vh (qw(secrets_define secrets_file)) {
    my $ua = new_ua();
    my $r = sign_in($ua, $vh, "/app/$vh");
    is($r->code, 200, "$vh: signed in") or diag($r->status_line);
    is(echo_header(echo($r) || {}, 'X-Test-Remote-User'), USER->{preferred_username}, "$vh: ... as the user");
    is($ua->get(url($vh, "/app/$vh-again"))->code, 200, "$vh: ... and the session opens again (the key is the one that sealed it)");
}
# the two keys differ (Define vs file:): a session of one is no session of the other
{
    my $ua = new_ua();
    is(sign_in($ua, 'secrets_define', '/app/one')->code, 200, 'signed in at secrets_define');
    my $cookie = cookie_value($ua, 'entra_session');
    my $r = new_ua(no_cookies => 1)->get(url('secrets_file', '/app/other'), Cookie => "entra_session=$cookie");
    ok(is_login_redirect($r), '... its cookie opens nothing at secrets_file (another key)') or diag($r->status_line);
}

# the environment: ${NAME} with no Define of that name is the process's
# environment variable (a second server started here with it set)
{
    local $ENV{ENTRA_T_ENV_SECRET} = CLIENT_SECRET;
    local $ENV{ENTRA_T_ENV_KEY}    = 'environment-session-key-0123456789abcdefgh';
    my $b = eval {
        start_apache(name => 'env_secrets', key => '${ENTRA_T_ENV_KEY}',
                     extra => 'EntraClientSecret "${ENTRA_T_ENV_SECRET}"')
    };
    ok($b, 'a server whose client secret and session key come from the environment starts') or diag($@);
    SKIP: {
        skip 'no server', 3 unless $b;
        my $ua = new_ua();
        my $r = sign_in_at($ua, $b->url('/app/from-env'));
        is($r->code, 200, '... and signs in (Entra took the client secret)') or diag($r->status_line);
        is(echo_header(echo($r) || {}, 'X-Test-Remote-User'), USER->{preferred_username}, '... as the user');
        is($ua->get($b->url('/app/from-env-again'))->code, 200, '... and the session opens again');
        $b->stop;
    }
}

# the control: the environment's value is the one taken (a wrong secret
# there, and Entra refuses the sign-in)
{
    local $ENV{ENTRA_T_ENV_SECRET} = 'not-the-client-secret';
    local $ENV{ENTRA_T_ENV_KEY}    = 'environment-session-key-0123456789abcdefgh';
    my $b = eval {
        start_apache(name => 'env_secrets_wrong', key => '${ENTRA_T_ENV_KEY}',
                     extra => 'EntraClientSecret "${ENTRA_T_ENV_SECRET}"')
    };
    ok($b, 'control: a server with a wrong client secret in the environment starts') or diag($@);
    SKIP: {
        skip 'no server', 1 unless $b;
        my $r = sign_in_at(new_ua(), $b->url('/app/from-env-wrong'));
        isnt($r->code, 200, '... and cannot sign in (' . $r->code . '): the environment\'s value was taken');
        $b->stop;
    }
}

done_testing();
