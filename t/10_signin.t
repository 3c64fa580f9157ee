# The whole sign-in through the reverse proxy, and what the backend sees.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Digest::SHA qw(sha256);
use MIME::Base64 qw(encode_base64url);
use URI;
use EntraTest;

mock_reset();
my $mark = log_mark();
my $ua = new_ua();
my $vh = 'entra_main';
my $path = '/app/hello/world?x=1&y=two%20words';

my ($final, $s) = sign_in($ua, $vh, $path);

# ---- 1. not signed in: 302 to Entra's authorize endpoint
my $start = $s->{start};
is($start->code, 302, 'unauthenticated GET -> 302');
ok(is_login_redirect($start), '... to the v2.0 authorize endpoint')
    or diag('Location: ' . (location($start) // '(none)'));
my $au = URI->new($s->{authorize_url} // '');
is($au->path, '/' . TENANT . '/oauth2/v2.0/authorize', 'authorize path uses the configured tenant');

my $q = $s->{authorize_params} || {};
is($q->{response_type}, 'code', 'response_type=code');
is($q->{client_id}, CLIENT_ID, 'client_id');
is($q->{redirect_uri}, base_url($vh) . '/.auth/login/aad/callback',
   'redirect_uri: absolute, default callback path');
is_deeply([sort split ' ', $q->{scope} // ''], [qw(email openid profile)],
          'scope defaults to "openid profile email"');
like($q->{state} // '', qr/^[A-Za-z0-9_.~-]{16,}$/, 'state: present, 16+ URL-safe chars');
like($q->{nonce} // '', qr/^[A-Za-z0-9_.~-]{16,}$/, 'nonce: present, 16+ URL-safe chars');
isnt($q->{state} // '', $q->{nonce} // '', 'state and nonce differ');
like($q->{code_challenge} // '', qr/^[A-Za-z0-9_-]{43}$/, 'code_challenge: 43 chars base64url (S256)');
is($q->{code_challenge_method}, 'S256', 'code_challenge_method=S256');
is($q->{response_mode}, 'query', 'response_mode=query');

my $state = $q->{state} // '';
my $sc = find_set_cookie($start, "entra_session_state_$state");
ok($sc, "state cookie entra_session_state_<state> set") or diag(join "\n", set_cookie_headers($start));
$sc //= '';
like($sc, qr/;\s*HttpOnly/i, '... HttpOnly');
like($sc, qr/;\s*SameSite=Lax/i, '... SameSite=Lax');
# only the callback needs it: the state cookie rides on no other request
like($sc, qr/;\s*Path=\/\.auth\/login\/aad\/callback(?:;|\s*$)/i, '... Path=<callback path>');
like($sc, qr/;\s*Max-Age=600\b/i, '... Max-Age=600');
unlike($sc, qr/;\s*Secure/i, '... no Secure flag with EntraCookieSecure Off');
ok(!find_set_cookie($start, 'entra_session'), 'no session cookie before sign-in');

# ---- 2. Entra sends the browser back
my $authz = $s->{authorize};
is($authz && $authz->code, 302, 'mock authorize redirects back');
is($s->{callback_params}{state}, $state, 'callback carries our state');
ok($s->{callback_params}{code}, 'callback carries a code');

# ---- PKCE and client auth as the token endpoint saw them
my $st = mock_stats();
my $tok = $st->{last}{token} || {};
is($tok->{grant_type}, 'authorization_code', 'token request: grant_type=authorization_code');
is($tok->{auth_method}, 'client_secret_post', 'token request: client_secret_post by default');
is($tok->{client_id}, CLIENT_ID, 'token request: client_id in the body');
is($tok->{redirect_uri}, $q->{redirect_uri}, 'token request: same redirect_uri');
ok(defined $tok->{code_verifier} && length $tok->{code_verifier} >= 43,
   'token request: code_verifier (43+ chars)');
is(encode_base64url(sha256($tok->{code_verifier} // '')), $q->{code_challenge},
   'code_challenge = BASE64URL(SHA256(code_verifier))');

# ---- 3. the callback: session cookie, state cookie cleared, back to the original URL
my $cb = $s->{callback};
is($cb && $cb->code, 302, 'callback -> 302');
if ($cb) {
    my $back = abs_location($cb) // '';
    is(URI->new($back)->canonical->as_string, URI->new(url($vh, $path))->canonical->as_string,
       'callback redirects to the original URL (path + query, same origin)');
    my $sess = find_set_cookie($cb, 'entra_session') // '';
    ok($sess, 'entra_session cookie set') or diag(join "\n", set_cookie_headers($cb));
    like($sess, qr/;\s*HttpOnly/i, '... HttpOnly');
    like($sess, qr/;\s*SameSite=Lax/i, '... SameSite=Lax');
    like($sess, qr/;\s*Path=\/(?:;|\s*$)/i, '... Path=/');
    unlike($sess, qr/;\s*Secure/i, '... no Secure flag with EntraCookieSecure Off');
    my $clear = find_set_cookie($cb, "entra_session_state_$state") // '';
    like($clear, qr/;\s*(?:Max-Age=0\b|Expires=[^;]*19[0-9][0-9])/i, 'state cookie cleared');
}
ok(!defined cookie_value($ua, "entra_session_state_$state"), 'browser no longer holds the state cookie');

# ---- 4. the original URL, signed in
is($final->code, 200, 'signed-in request reaches the backend');
my $e = echo($final) || {};
is($e->{path}, '/app/hello/world', 'backend got the original path');
is($e->{query}, 'x=1&y=two%20words', 'backend got the original query');
my $u = USER;
my $h = echo_headers_norm($e);
my $one = sub { my $v = $h->{$_[0]}; $v ? join("\x00", @$v) : undef };
is($one->('x-test-remote-user'), $u->{preferred_username}, 'REMOTE_USER = preferred_username (default claim)');
is($one->('x-entra-claim-oid'), $u->{oid}, 'X-Entra-Claim-oid');
is($one->('x-entra-claim-sub'), $u->{sub}, 'X-Entra-Claim-sub');
is($one->('x-entra-claim-name'), $u->{name}, 'X-Entra-Claim-name');
is($one->('x-entra-claim-preferred-username'), $u->{preferred_username}, 'X-Entra-Claim-preferred_username');
is($one->('x-entra-claim-email'), $u->{email}, 'X-Entra-Claim-email');
is($one->('x-entra-claim-tid'), TENANT, 'X-Entra-Claim-tid');
is($one->('x-entra-claim-aud'), CLIENT_ID, 'X-Entra-Claim-aud');
is($one->('x-entra-claim-roles'), join(',', @{ $u->{roles} }), 'X-Entra-Claim-roles: array joined with ","');
is($one->('x-entra-claim-groups'), join(',', @{ $u->{groups} }), 'X-Entra-Claim-groups: array joined with ","');
is($one->('x-entra-claim-ver'), '2.0', 'X-Entra-Claim-ver');
# numeric claims as decimal numbers (Entra back-dates iat/nbf by 300 s; exp = iat + 3900)
for my $c (qw(iat nbf exp)) {
    like($one->("x-entra-claim-$c") // '', qr/^[0-9]{10}$/, "X-Entra-Claim-$c is a decimal timestamp");
}
{
    my ($iat, $exp) = map { ($one->("x-entra-claim-$_") // '') =~ /^([0-9]+)$/ ? $1 : 0 } qw(iat exp);
    ok(abs($iat - (time - 300)) < 120, '... iat about now - 300 s');
    is($exp - $iat, 3900, '... exp = iat + 3900');
}
is($one->('x-test-env-oid'), $u->{oid}, 'env ENTRA_CLAIM_oid visible to mod_headers');
is($one->('x-test-env-roles'), join(',', @{ $u->{roles} }), 'env ENTRA_CLAIM_roles joined with ","');

# ---- 5. signed in: no IdP traffic at all
my $before = mock_stats()->{requests};
my @again = map { $ua->get(url($vh, "/app/again/$_")) } 1 .. 3;
is_deeply([map { $_->code } @again], [200, 200, 200], 'three more signed-in requests: 200');
is(scalar echo_header(echo($again[0]) || {}, 'X-Test-Remote-User'),
   $u->{preferred_username}, '... as the same user');
is_deeply(mock_stats()->{requests}, $before, '... and not one request to the IdP');

# ---- 6. other methods and places
my $anon = new_ua();
my $head = $anon->head(url($vh, '/app/head'));
is($head->code, 302, 'unauthenticated HEAD -> 302');
ok(is_login_redirect($head), '... to the authorize endpoint');
my $post = $anon->post(url($vh, '/app/form'), Content => 'a=1');
is($post->code, 401, 'unauthenticated POST -> 401 (no redirect)');
ok(!find_set_cookie($post, qr/^entra_session_state_/), '... and starts no login (no state cookie)');
my $pub = $anon->get(url($vh, '/public/page'));
is($pub->code, 200, 'unprotected location is served without sign-in');
ok(!find_set_cookie($pub, qr/^entra_/), '... and sets no entra_ cookie');

# A clean sign-in leaves no warnings in the log
my @problems = entra_problems($mark);
is(scalar @problems, 0, 'no warn/error lines from the module during a clean sign-in')
    or diag(join "\n", @problems);

done_testing();
