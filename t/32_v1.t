# EntraEndpointVersion 1: the v1 authorize and token endpoints, the
# sts.windows.net issuer, upn/unique_name for REMOTE_USER (as the
# Rocket.Chat guide's set-up).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use URI;
use EntraTest;
use EntraSeeds;

my $vh = 'app_v1';
mock_reset();
my $mark = log_mark();
my $ua = new_ua();
my ($final, $s) = sign_in($ua, $vh, '/app/v1?x=1');

my $au = URI->new($s->{authorize_url} // '');
is($au->path, '/' . TENANT . '/oauth2/authorize', 'authorize at the v1 endpoint /{tenant}/oauth2/authorize');
my $q = $s->{authorize_params} || {};
is($q->{response_type}, 'code', '... response_type=code');
is($q->{client_id}, CLIENT_ID, '... client_id');
is($q->{scope}, 'openid', '... scope=openid (EntraScope openid)');
ok(!exists $q->{resource}, '... no resource: the ID token is what the sign-in needs');
is($q->{code_challenge_method}, 'S256', '... PKCE');
ok($q->{state} && $q->{nonce}, '... state and nonce');

my $tok = mock_stats()->{last}{token} || {};
is($tok->{grant_type}, 'authorization_code', 'token request: authorization_code');
is($tok->{auth_method}, 'client_secret_post', '... client secret in the body');

is($final->code, 200, 'v1 sign-in reaches the backend');
my $h = claims_of($final);
is(claim($h, 'ver'), '1.0', 'a v1 ID token (ver 1.0): the v1 token endpoint issued it');
is(claim($h, 'iss'), 'https://sts.windows.net/' . TENANT . '/', 'iss https://sts.windows.net/{tid}/');
is(claim($h, 'upn'), USER->{preferred_username}, 'upn claim');
is(claim($h, 'unique_name'), USER->{preferred_username}, 'unique_name claim');
is(remote_user($h), USER->{preferred_username}, 'REMOTE_USER = upn (EntraRemoteUserClaim upn unique_name)');
ok(echo($final) && !has_claim($h, 'preferred_username'), 'no preferred_username in a v1 token');
is(claim($h, 'tid'), TENANT, 'tid');
is(claim($h, 'given_name'), 'Adele', 'given_name (v1 tokens carry it)');
is(claim($h, 'family_name'), 'Vance', 'family_name');
my @p = entra_problems($mark);
is(scalar @p, 0, 'a clean v1 sign-in logs no warning or error') or diag(join "\n", @p);

# upn missing: unique_name is next
mock_reset();
mock_config({ user => { upn => undef } });
$final = sign_in(new_ua(), $vh, '/app/v1-unique-name');
is($final->code, 200, 'no upn: signed in');
$h = claims_of($final);
ok(echo($final) && !has_claim($h, 'upn'), '... the token had no upn');
is(remote_user($h), USER->{preferred_username}, '... REMOTE_USER = unique_name');

# a guest/B2B style upn differs from the sign-in name
mock_reset();
mock_config({ user => { upn => 'adele_fabrikam.test#EXT#@contoso.test' } });
$final = sign_in(new_ua(), $vh, '/app/v1-guest');
is(remote_user(claims_of($final)), 'adele_fabrikam.test#EXT#@contoso.test', 'REMOTE_USER = upn as Entra sends it');

# failure paths on the v1 endpoint
for my $kind (qw(wrong_iss wrong_aud expired bad_signature)) {
    mock_reset();
    mock_config({ bad_token => $kind });
    my $m = log_mark();
    my $b = new_ua();
    my (undef, $st) = sign_in($b, $vh, "/app/v1-$kind");
    is($st->{callback} && $st->{callback}->code, 401, "v1 $kind: 401");
    ok(!defined cookie_value($b, 'entra_session'), "v1 $kind: no session");
    ok(scalar(entra_problems($m)), "v1 $kind: an error line");
}

# a v2 token (login.microsoftonline.com/{tid}/v2.0 issuer shape) is not a v1 one
mock_reset();
mock_config({ user => { iss => mock_base() . '/' . TENANT . '/v2.0' } });
my $b = new_ua();
(undef, $s) = sign_in($b, $vh, '/app/v1-v2iss');
is($s->{callback} && $s->{callback}->code, 401, 'v1 vhost: a token with the v2 issuer is refused');

# the token endpoint refuses (v1 errors are Entra's JSON too)
mock_reset();
mock_config({ fail => { token => 503 } });
my $m = log_mark();
(undef, $s) = sign_in(new_ua(), $vh, '/app/v1-token-503');
is($s->{callback} && $s->{callback}->code, 502, 'v1 token endpoint failing: 502');
ok(scalar(grep { /ENTRA00201:.*answered HTTP 503:.*AADSTS90033/ } entra_problems($m)),
   '... the log has Entra\'s answer (ENTRA00201: HTTP 503, AADSTS90033)')
    or diag(join "\n", entra_problems($m));

mock_reset();
# ------------------------------------------------------- start-up checks --
configtest_passes('EntraEndpointVersion 1', ['EntraEndpointVersion 1']);
configtest_passes('EntraEndpointVersion 2', ['EntraEndpointVersion 2']);
configtest_fails('EntraEndpointVersion 3', ['EntraEndpointVersion 3'], qr/EntraEndpointVersion/);
configtest_fails('EntraEndpointVersion v1', ['EntraEndpointVersion v1'], qr/EntraEndpointVersion/);

done_testing();
