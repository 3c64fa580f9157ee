# Bearer mode: AuthType Entra-Bearer and EntraAcceptBearer On take an
# access token Entra issued for this app's own API (v1 or v2 shape, aud =
# client id, api://<client id> or EntraAppIDURI), check scp/roles with
# Require entra-scope/entra-role, make no session, and hand the backend the
# same claim headers; anything else is 401 with a Bearer challenge.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP ();
use URI::Escape ();
use EntraTest;
use EntraSessions;

mock_reset();
my $mark = log_mark();
my $vh = 'sess_bearer';

sub bearer {
    my ($vhost, $path, $token, @h) = @_;
    return raw_get($vhost, $path, undef, Authorization => "Bearer $token", @h);
}
sub invalid_token {
    my $r = shift;
    return $r->code == 401
        && ($r->header('WWW-Authenticate') // '') =~ /^Bearer\b.*\berror="invalid_token"/;
}

# ------------------------------------------------------------ accepted ---
my %shapes = (
    'v2 token (aud = client id)'            => { version => 2 },
    'v1 token (aud = api://<client id>, sts.windows.net issuer)' => { version => 1 },
    'v2 token with aud = api://<client id>' => { version => 2, aud => APP_ID_URI },
    'v1 token with aud = client id'         => { version => 1, aud => CLIENT_ID },
);
for my $what (sort keys %shapes) {
    my $t = api_token_json(%{ $shapes{$what} });
    my $r = bearer($vh, '/api/items', $t->{token}, 'X-Entra-Claim-oid' => 'forged');
    is($r->code, 200, "$what: 200") or diag($r->status_line . ' ' . ($r->header('WWW-Authenticate') // ''));
    is(backend_header($r, 'X-Entra-Claim-oid'), USER->{oid}, '... X-Entra-Claim-oid (a forged one replaced)');
    is(backend_header($r, 'X-Entra-Claim-scp'), 'access_as_user', '... X-Entra-Claim-scp');
    is(backend_header($r, 'X-Entra-Claim-roles'), join(',', @{ USER->{roles} }), '... X-Entra-Claim-roles');
    is(backend_header($r, 'X-Entra-Claim-tid'), TENANT, '... X-Entra-Claim-tid');
    is(backend_header($r, 'X-Entra-Claim-ver'), $t->{claims}{ver}, '... X-Entra-Claim-ver');
    is(backend_header($r, 'X-Test-Remote-User'), USER->{preferred_username}, '... REMOTE_USER (preferred_username or upn)');
    is(backend_header($r, 'X-Test-Auth-Type'), 'Entra-Bearer', '... AUTH_TYPE Entra-Bearer');
    ok(!find_set_cookie($r, qr/^entra_/), '... and no cookie: no session is made');
}
# the same token again, and the backend sees the Authorization header as sent
{
    my $t = api_token();
    is(bearer($vh, '/api/again', $t)->code, 200, 'the same token works again');
    is(backend_header(bearer($vh, '/api/again', $t), 'Authorization'), "Bearer $t", '... the backend gets the Authorization header');
    is(raw_get($vh, '/api/x', undef, Authorization => "bearer $t")->code, 200, 'scheme "bearer" in lower case');
}

# ------------------------------------------------------- scopes, roles ---
{
    my $user  = api_token(scp => 'access_as_user');
    my $read  = api_token(scp => 'access_as_user Tasks.Read');
    my $noadm = api_token(roles => 'Task.Read');
    my $app   = api_token_json(app => 1);
    is(bearer($vh, '/api/user/x', $user)->code, 200, 'Require entra-scope access_as_user: scp access_as_user -> 200');
    is(bearer($vh, '/api/read/x', $user)->code, 403, 'Require entra-scope Tasks.Read: scp access_as_user -> 403');
    is(bearer($vh, '/api/read/x', $read)->code, 200, '... scp "access_as_user Tasks.Read" -> 200');
    is(bearer($vh, '/api/read/x', api_token(scp => 'Tasks.ReadWrite'))->code, 403,
       '... scp Tasks.ReadWrite (a longer name) -> 403');
    is(bearer($vh, '/api/admin/x', $user)->code, 200, 'Require entra-role Admin: roles Task.Read Admin -> 200');
    is(bearer($vh, '/api/admin/x', $noadm)->code, 403, '... roles Task.Read only -> 403');
    is(bearer($vh, '/api/daemon/x', $app->{token})->code, 200, 'Require entra-role Tasks.Read.All: the app-only token -> 200');
    is(bearer($vh, '/api/daemon/x', $user)->code, 403, '... a user token without that role -> 403');
    is(bearer($vh, '/api/user/x', $app->{token})->code, 403, 'Require entra-scope: an app-only token (no scp) -> 403');

    # app-only: REMOTE_USER is its oid
    my $r = bearer($vh, '/api/daemon/who', $app->{token});
    is(backend_header($r, 'X-Test-Remote-User'), SP_OID, 'app-only token: REMOTE_USER = its oid');
    is(backend_header($r, 'X-Entra-Claim-roles'), 'Tasks.Read.All', '... X-Entra-Claim-roles');
    ok(!defined backend_header($r, 'X-Entra-Claim-scp'), '... no X-Entra-Claim-scp');
    is(backend_header($r, 'X-Entra-Claim-idtyp'), 'app', '... X-Entra-Claim-idtyp app');
    my $v1app = api_token(app => 1, version => 1);
    is(backend_header(bearer($vh, '/api/daemon/who', $v1app), 'X-Test-Remote-User'), SP_OID,
       'app-only v1 token: REMOTE_USER = its oid');
}

# a token from the real client-credentials grant at the mock
{
    my $res = EntraTest::control_ua()->post(
        mock_url('/' . TENANT . '/oauth2/v2.0/token'),
        { grant_type => 'client_credentials', client_id => CLIENT_ID, client_secret => CLIENT_SECRET,
          scope => APP_ID_URI . '/.default' });
    my $tok = $res->is_success ? JSON::PP->new->decode($res->content)->{access_token} : '';
    ok($tok, 'client credentials grant at the mock: a token');
    my $r = bearer($vh, '/api/daemon/cc', $tok);
    is($r->code, 200, '... accepted by Require entra-role Tasks.Read.All');
    is(backend_header($r, 'X-Test-Remote-User'), SP_OID, '... REMOTE_USER = the service principal\'s oid');
}

# a token from a real delegated flow for the API scope
{
    mock_config({});
    my $sc = 'openid offline_access api://' . CLIENT_ID . '/access_as_user';
    my $get = sub { EntraTest::control_ua()->get(shift) };
    my $start = $get->(mock_url('/' . TENANT . '/oauth2/v2.0/authorize?' . join '&',
        'client_id=' . CLIENT_ID, 'response_type=code', 'redirect_uri=http%3A%2F%2Flocalhost%2Fcb',
        'scope=' . URI::Escape::uri_escape($sc), 'state=s1', 'nonce=n1'));
    my $code = query_params(location($start) // '')->{code};
    my $res = EntraTest::control_ua()->post(mock_url('/' . TENANT . '/oauth2/v2.0/token'),
        { grant_type => 'authorization_code', client_id => CLIENT_ID, client_secret => CLIENT_SECRET,
          code => $code // '', redirect_uri => 'http://localhost/cb' });
    my $tok = $res->is_success ? JSON::PP->new->decode($res->content)->{access_token} : '';
    my $r = bearer($vh, '/api/user/flow', $tok);
    is($r->code, 200, 'an access token from the authorization-code flow for api://<client>/access_as_user: 200');
    is(backend_header($r, 'X-Test-Remote-User'), USER->{preferred_username}, '... as Adele');
}

# ---------------------------------------------------------------- refused ---
my $graph_token;
{
    # the access token of a normal sign-in is for Microsoft Graph
    my $ua = new_ua();
    my $r = sign_in($ua, 'sess_me', '/app/graph');
    $graph_token = backend_header($r, 'X-Entra-Access-Token');
    ok($graph_token, 'a Graph access token from a normal sign-in');
}
my $id_token;
{
    my $ua = new_ua();
    sign_in($ua, 'sess_app', '/app/id');
    $id_token = mock_stats()->{last}{token_response}{id_token};
}
my %refused = (
    'expired'                          => api_token(expired => 1),
    'expired 10 minutes ago (beyond the 5-minute skew)' => api_token(exp_in => -600),
    'not valid for another hour (nbf)' => api_token(nbf_in => 3600),
    'wrong audience (another app)'     => api_token(wrong_aud => 1),
    'audience api://<another app>'     => api_token(aud => 'api://3c1e5a7b-2d4f-4a6e-8b0c-9d1e2f3a4b5c'),
    'a Graph token from the sign-in'   => $graph_token // 'x.y.z',
    'another tenant'                   => api_token(tenant => 'other'),
    'another tenant, v1'               => api_token(tenant => 'other', version => 1),
    'iss of another tenant, tid ours'  => api_token(iss_tenant => 'other'),
    'bad signature'                    => api_token(bad => 'bad_signature'),
    'alg none'                         => api_token(bad => 'alg_none'),
    'HS256 keyed with the public key'  => api_token(bad => 'hs256_pubkey'),
    'the ID token of a sign-in (not an access token)' => $id_token // 'x.y.z',
    'not a JWT'                        => 'not-a-jwt',
    'two parts only'                   => 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0',
    'a JWT with garbage signature'     => api_token() . 'AAAA',
);
for my $what (sort keys %refused) {
    my $r = bearer($vh, '/api/items', $refused{$what}, Accept => 'text/html');
    ok(invalid_token($r), "$what: 401, WWW-Authenticate: Bearer error=\"invalid_token\"")
        or diag($r->status_line . ' / ' . ($r->header('WWW-Authenticate') // '(no challenge)'));
    ok(!defined location($r), '... no redirect to sign in');
    ok(!defined((echo($r) || {})->{path}), '... the backend is not reached');
}
{
    my $r = raw_get($vh, '/api/items', undef, Accept => 'text/html');
    is($r->code, 401, 'no token at all: 401');
    like($r->header('WWW-Authenticate') // '', qr/^Bearer realm="[^"]*"$/, '... a plain Bearer challenge (no error)');
    ok(!defined location($r), '... no redirect');
    $r = raw_get($vh, '/api/items', undef, Authorization => 'Basic YWRlbGU6cGFzc3dvcmQ=');
    is($r->code, 401, 'Basic credentials: 401');
    like($r->header('WWW-Authenticate') // '', qr/^Bearer\b/, '... a Bearer challenge');
    $r = raw_get($vh, '/api/items', undef, Authorization => 'Bearer ');
    is($r->code, 401, 'an empty bearer token: 401');
    # a session cookie does not open AuthType Entra-Bearer
    my $ua = new_ua();
    sign_in($ua, $vh, '/app/s');
    $r = $ua->get(url($vh, '/api/items'));
    is($r->code, 401, 'a session cookie alone on AuthType Entra-Bearer: 401');
}

# -------------------------------------------------- EntraAcceptBearer On ---
{
    my $t = api_token();
    my $r = bearer($vh, '/mixed/x', $t);
    is($r->code, 200, 'EntraAcceptBearer On: a bearer token -> 200');
    is(backend_header($r, 'X-Test-Remote-User'), USER->{preferred_username}, '... as Adele');
    is(backend_header($r, 'X-Test-Auth-Type'), 'Entra-Bearer', '... AUTH_TYPE Entra-Bearer');
    ok(!find_set_cookie($r, qr/^entra_/), '... no session cookie');
    ok(invalid_token(bearer($vh, '/mixed/x', api_token(expired => 1))), '... an expired token -> 401 invalid_token');
    ok(invalid_token(bearer($vh, '/mixed/x', $graph_token // 'x')), '... a Graph token -> 401 invalid_token');
    my $ua = new_ua();
    my $s = sign_in($ua, $vh, '/mixed/s');
    is($s->code, 200, '... a browser signs in there as usual');
    is(backend_header($s, 'X-Test-Auth-Type'), 'Entra', '... AUTH_TYPE Entra');
    $r = raw_get($vh, '/mixed/x', undef, 'X-Requested-With' => 'XMLHttpRequest');
    ok(is_api_challenge($r), '... no session, no token, XHR: 401 challenge');
    # without EntraAcceptBearer a token is no way in
    $r = bearer($vh, '/app/x', $t, Accept => 'text/html');
    ok(is_login_redirect($r), 'AuthType Entra without EntraAcceptBearer: the token is ignored (sign in)');
}

# ----------------------------------------------------- EntraAppIDURI ---
{
    my $uri = 'https://api.contoso.test/tasks';
    is(bearer('sess_bearer_uri', '/api/x', api_token(aud => $uri))->code, 200, "EntraAppIDURI $uri: aud = it -> 200");
    is(bearer('sess_bearer_uri', '/api/x', api_token(version => 1, aud => $uri))->code, 200, '... a v1 token with it -> 200');
    is(bearer('sess_bearer_uri', '/api/x', api_token())->code, 200, '... aud = client id -> 200');
    ok(invalid_token(bearer('sess_bearer_uri', '/api/x', api_token(version => 1))),
       '... aud = api://<client id> (not the configured URI) -> 401');
    ok(invalid_token(bearer('sess_bearer_uri', '/api/x', api_token(aud => "$uri/other"))), '... aud = <uri>/other -> 401');
}

# --------------------------------- multi-tenant with EntraAllowedTenants ---
{
    my $r = bearer('sess_bearer_mt', '/api/x', api_token());
    is($r->code, 200, 'organizations + EntraAllowedTenants ours: a token of our tenant -> 200')
        or diag($r->header('WWW-Authenticate') // '');
    $r = bearer('sess_bearer_mt', '/api/x', api_token(version => 1));
    is($r->code, 200, '... a v1 token of our tenant -> 200')
        or diag($r->header('WWW-Authenticate') // '');
    $r = bearer('sess_bearer_mt', '/api/x', api_token(tenant => 'other'));
    is($r->code, 401, '... a token of a tenant not allowed: refused (401)')
        or diag($r->status_line . ', REMOTE_USER at the backend: ' . (backend_header($r, 'X-Test-Remote-User') // '-'));
    ok(!defined((echo($r) || {})->{path}), '... the backend is not reached');

    # (here, not on sess_bearer: an unknown kid spends the JWKS refetch of its
    # discovery URL, which t/80_key_rotation.t needs on the tenant's own URL)
    $r = bearer('sess_bearer_mt', '/api/x', api_token(bad => 'unknown_kid'));
    ok(invalid_token($r), 'a token signed by an unknown key: 401 invalid_token')
        or diag($r->status_line . ' / ' . ($r->header('WWW-Authenticate') // '(no challenge)'));
}

my @crit = grep { /\[auth_entra:(?:emerg|alert|crit)\]/ } log_since($mark);
is(scalar @crit, 0, 'nothing at crit or worse') or diag(join "\n", @crit);

done_testing();
