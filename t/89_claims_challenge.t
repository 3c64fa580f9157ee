# Issue 13: claims challenges from the app (t/conf/cae.conf.in).  With
# EntraPassAccessToken the backend calls an API as the user; the mock's echo
# backend /cae/... is such an API doing Continuous Access Evaluation (the
# cae_challenge switch): 401 with WWW-Authenticate: Bearer
# error="insufficient_claims", claims="<base64 JSON>" unless the access token
# came from a sign-in that asked for those claims.
#  - a browser's navigation: a 302 to Entra with those claims (merged with
#    xms_cc under EntraClientCapabilities cp1) for the same user, back to
#    the same URL with a fresh access token;
#  - XHR/API callers, a malformed challenge, the same session challenged
#    again right after such a sign-in: the app's 401 unchanged;
#  - EntraClientCapabilities cp1 on every authorize and token request.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP ();
use MIME::Base64 qw(encode_base64);
use EntraTest;

my $JSON = JSON::PP->new->canonical;
my $CAE = '{"access_token":{"nbf":{"essential":true,"value":"1764400000"}}}';
my $CP1 = { access_token => { xms_cc => { values => ['cp1'] } } };

sub json_of { my $s = shift; return defined $s ? eval { $JSON->decode($s) } : undef }

sub challenge_header {
    my $claims = shift // $CAE;
    return sprintf('Bearer realm="", authorization_uri="%s/common/oauth2/v2.0/authorize", '
                   . 'error="insufficient_claims", claims="%s"',
                   mock_url(), encode_base64($claims, ''));
}

# A browser signed in at $vh's /app/start, the switches set first.
sub signed_in {
    my ($vh, %switch) = @_;
    mock_reset();
    mock_config({ %switch }) if %switch;
    my $ua = new_ua();
    my ($r, $steps) = sign_in($ua, $vh, '/app/start');
    is($r->code, 200, "$vh: signed in") or diag($r->status_line);
    return wantarray ? ($ua, $steps) : $ua;
}

sub token_seen {
    my $r = shift;
    my $e = echo($r) or return undef;
    return scalar echo_header($e, 'X-Entra-Access-Token');
}

# ---- 1. the browser signs in with the challenge's claims (+ cp1) and comes back
{
    my ($ua, $steps) = signed_in('cae', cae_challenge => JSON::PP::true);
    is_deeply(json_of($steps->{authorize_params}{claims}), $CP1,
              'sign-in: authorize carries claims with xms_cc cp1 (EntraClientCapabilities)');
    my $st = mock_stats();
    is($st->{last}{token}{grant_type}, 'authorization_code', 'the code was redeemed');
    is_deeply(json_of($st->{last}{token}{claims}), $CP1, '... with claims xms_cc cp1');
    my $first = token_seen($ua->get(url('cae', '/app/start')));
    ok($first, 'the backend gets an access token');

    my $mark = log_mark();
    my $path = '/cae/report?q=1&r=two%20words';
    my $r = $ua->get(url('cae', $path));
    ok(is_login_redirect($r), "the app's claims challenge to a browser's navigation: 302 to Entra")
        or diag($r->status_line . "\n" . $r->as_string);
    my $loc = abs_location($r) // '';
    my $q = query_params($loc);
    is_deeply(json_of($q->{claims}),
              { access_token => { nbf => { essential => JSON::PP::true, value => '1764400000' },
                                  xms_cc => { values => ['cp1'] } } },
              '... claims: the challenge\'s, with xms_cc merged in (one object)')
        or diag($q->{claims});
    is($q->{login_hint}, 'adele@contoso.test', '... login_hint: the same user');
    is(() = $loc =~ /[?&]claims=/g, 1, '... one claims parameter');
    ok(!$r->header('WWW-Authenticate'), "... the app's WWW-Authenticate is not passed on");
    ok(find_set_cookie($r, qr/state_/), '... a state cookie');
    ok(!find_set_cookie($r, qr/^entra_session$/), '... the session cookie untouched');
    like($r->header('Cache-Control') // '', qr/no-store/, '... no-store');
    unlike($r->decoded_content // '', qr/InvalidAuthenticationToken/, "... not the app's body");

    my $cb = finish_callback($ua, authorize_at_mock($ua, $r));
    is($cb->code, 302, 'callback: 302');
    is(URI->new(abs_location($cb) // '')->canonical->as_string,
       URI->new(url('cae', $path))->canonical->as_string, '... back to the same URL');
    $st = mock_stats();
    is_deeply(json_of($st->{last}{authorize}{claims}),
              json_of($q->{claims}), 'Entra was asked for exactly those claims');
    my $final = follow($ua, $cb);
    is($final->code, 200, 'the page: 200 (the new access token meets the challenge)')
        or diag($final->as_string);
    my $fresh = token_seen($final);
    ok($fresh && $fresh ne $first, '... the backend has a new access token');
    ok(mock_stats()->{last}{cae}{met}, '... which the API accepts');
    my @lines = entra_lines($mark);
    ok((grep { /ENTRA00240:.*claims challenge/ } @lines), 'log: ENTRA00240') or diag(join "\n", @lines);
    ok((grep { /ENTRA00230:.*claims challenge/ } @lines), 'log: ENTRA00230 step-up for the claims');
    ok((grep { /ENTRA00235:.*claims challenge/ } @lines), 'log: ENTRA00235 the session upgraded');
    is(token_seen($ua->get(url('cae', '/app/again'))), $fresh, 'the session keeps the new token');
    is($ua->get(url('cae', '/cae/other'))->code, 200, '... and the API takes it from then on');
}

# ---- 2. XHR, API and non-GET callers: the app's 401 unchanged
{
    my $ua = signed_in('cae', cae_challenge => JSON::PP::true);
    for my $case (['XHR', 'GET', 'X-Requested-With' => 'XMLHttpRequest'],
                  ['fetch', 'GET', 'Sec-Fetch-Mode' => 'cors'],
                  ['an API (Accept: application/json)', 'GET', Accept => 'application/json'],
                  ['a POST', 'POST']) {
        my ($what, $method, @h) = @$case;
        my $mark = log_mark();
        my $r = $method eq 'GET' ? $ua->get(url('cae', '/cae/data'), @h)
                                 : $ua->post(url('cae', '/cae/data'), Content => 'a=1');
        is($r->code, 401, "$what: 401");
        is($r->header('WWW-Authenticate'), challenge_header(), "$what: the app's challenge unchanged");
        like($r->decoded_content // '', qr/InvalidAuthenticationToken/, "$what: the app's body");
        ok(!find_set_cookie($r, qr/state_/), "$what: no sign-in started");
        ok((grep { /ENTRA00244:/ } entra_lines($mark)), "$what: log ENTRA00244");
    }
}

# ---- 3. malformed or foreign challenges pass through unchanged
{
    my $ua = signed_in('cae');
    for my $case (['not base64', 'Bearer error="insufficient_claims", claims="!!not base64!!"', 1],
                  ['not JSON', 'Bearer error="insufficient_claims", claims="' . encode_base64('claims please', '') . '"', 1],
                  ['a JSON array', 'Bearer error="insufficient_claims", claims="' . encode_base64('[1]', '') . '"', 1],
                  ['a member that is no token', 'Bearer error="insufficient_claims", claims="'
                       . encode_base64('{"redirect_uri":{"x":1}}', '') . '"', 1],
                  ['claims over 2048 bytes', 'Bearer error="insufficient_claims", claims="'
                       . encode_base64('{"access_token":{"x":{"value":"' . ('a' x 2100) . '"}}}', '') . '"', 1],
                  ['claims twice', 'Bearer error="insufficient_claims", claims="'
                       . encode_base64($CAE, '') . '", claims="' . encode_base64('{"id_token":{}}', '') . '"', 1],
                  ['unterminated quote', 'Bearer error="insufficient_claims", claims="' . encode_base64($CAE, ''), 1],
                  ['another error', 'Bearer error="invalid_token", error_description="expired"', 0],
                  ['another scheme', 'Basic realm="app"', 0]) {
        my ($what, $header, $warns) = @$case;
        mock_config({ cae_challenge => { www_authenticate => $header } });
        my $mark = log_mark();
        my $r = $ua->get(url('cae', '/cae/page'));
        is($r->code, 401, "$what: the browser gets the app's 401");
        is($r->header('WWW-Authenticate'), $header, "$what: WWW-Authenticate unchanged");
        ok(!find_set_cookie($r, qr/state_/), "$what: no sign-in started");
        my @w = grep { /ENTRA00241:/ } entra_lines($mark);
        is(scalar @w, $warns, "$what: " . ($warns ? 'one warn line ENTRA00241' : 'nothing logged'))
            or diag(join "\n", entra_lines($mark));
        like($w[0], qr/\[auth_entra:warn\]/, "$what: at warn") if $warns;
    }
    # a challenge whose JSON tries to add parameters or another host: one
    # claims parameter, to the configured authority, the module's own redirect_uri
    my $evil = '{"access_token":{"x":{"value":"a&redirect_uri=https://evil.example/&client_id=x#"}}}';
    mock_config({ cae_challenge => { claims => $evil } });
    my $r = $ua->get(url('cae', '/cae/page'));
    ok(is_login_redirect($r), 'parameters inside the claims JSON: still a sign-in at the configured authority');
    my $loc = abs_location($r) // '';
    my $q = query_params($loc);
    is(() = $loc =~ /[?&]redirect_uri=/g, 1, '... one redirect_uri');
    like($q->{redirect_uri}, qr{^http://[^/]+/\.auth/login/aad/callback$}, "... the module's own");
    is(() = $loc =~ /[?&]client_id=/g, 1, '... one client_id');
    is($q->{client_id}, CLIENT_ID, '... the configured one');
    is(json_of($q->{claims})->{access_token}{x}{value}, 'a&redirect_uri=https://evil.example/&client_id=x#',
       '... the text stays inside the claims JSON');
}

# ---- 4. loop guard: challenged again right after such a sign-in
{
    my $ua = signed_in('cae', cae_challenge => { always => JSON::PP::true });
    my $r = $ua->get(url('cae', '/cae/page'));
    ok(is_login_redirect($r), 'first challenge: a sign-in');
    my $mark = log_mark();
    my $final = follow($ua, finish_callback($ua, authorize_at_mock($ua, $r)));
    is($final->code, 401, 'challenged again right after: the app\'s 401, no second round trip');
    ok(!defined location($final), '... no redirect');
    is($final->header('WWW-Authenticate'), challenge_header(), '... its challenge unchanged');
    ok(!find_set_cookie($final, qr/state_/), '... no sign-in started');
    ok((grep { /\[auth_entra:error\].*ENTRA00242:/ } entra_lines($mark)), 'log: ENTRA00242 at error')
        or diag(join "\n", entra_lines($mark));
    advance_clock(61);
    $r = $ua->get(url('cae', '/cae/page'));
    ok(is_login_redirect($r), 'a minute later: a sign-in again');
}

# ---- 5. without client capabilities: the challenge's claims as they are
{
    my $ua = signed_in('cae_nocaps', cae_challenge => JSON::PP::true);
    ok(!defined mock_stats()->{last}{token}{claims}, 'no capabilities: no claims on the token request');
    my $r = $ua->get(url('cae_nocaps', '/cae/page'));
    ok(is_login_redirect($r), 'the challenge: a sign-in');
    is(query_params(abs_location($r) // '')->{claims}, $CAE, '... with exactly the challenge\'s claims');
    my $final = follow($ua, finish_callback($ua, authorize_at_mock($ua, $r)));
    is($final->code, 200, '... back with a token the API takes');
}

# ---- 6. without EntraPassAccessToken the app's 401 is its own
{
    my $ua = signed_in('cae_notoken', cae_challenge => JSON::PP::true);
    my $r = $ua->get(url('cae_notoken', '/cae/page'));
    is($r->code, 401, 'no EntraPassAccessToken: the app\'s 401 for a browser too');
    is($r->header('WWW-Authenticate'), challenge_header(), '... unchanged');
}

# ---- 7. cp1 on the refresh request and merged with a step-up's claims
{
    past_refresh_breaker();
    my $ua = signed_in('cae', access_token_lifetime => 120);
    my $r = $ua->get(url('cae', '/app/x'));
    is($r->code, 200, 'an access token due: refreshed');
    my $t = mock_stats()->{last}{token};
    is($t->{grant_type}, 'refresh_token', '... the refresh token redeemed');
    is_deeply(json_of($t->{claims}), $CP1, '... with claims xms_cc cp1');
    $r = $ua->get(url('cae', '/cae/admin/page'));
    ok(is_login_redirect($r), 'Require entra-acrs c1: a step-up');
    is_deeply(json_of(query_params(abs_location($r) // '')->{claims}),
              { id_token => { acrs => { essential => JSON::PP::true, value => 'c1' } }, %$CP1 },
              '... claims: the step-up\'s id_token and xms_cc in one object');
}

done_testing();
