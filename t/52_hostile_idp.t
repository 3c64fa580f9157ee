# A hostile or changing IdP (issue 5): tokens whose kid reads like a path,
# a v1 issuer on a v2 app, JSON nested past any parser's limit; a JWKS that
# is huge or has no usable key; keys that rotate while a user is at Entra;
# a discovery document that moves the JWKS, names another issuer, points at
# nothing or stops being JSON.  Nobody gets in on a bad token, a sign-in
# that cannot be checked gets a short page and one log line, and users who
# are signed in never notice.  Vhosts: t/conf/hardening.conf.in.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP ();
use EntraTest;

use constant ENTRA_FETCH_BACKOFF => 5;    # src/provider.h
use EntraSessions;

my $FOREIGN_TID = '0b9d7f3e-5a4c-4e2b-9d1f-6c8a7e5b3d2f';

# The user signed in before the trouble: still served, and by no IdP call.
sub still_signed_in {
    my ($ua, $vh, $what) = @_;
    my $before = mock_stats()->{requests};
    my $r = $ua->get(url($vh, '/app/still'));
    is($r->code, 200, "$what: the user signed in before is still served");
    my $after = mock_stats()->{requests};
    is_deeply([map { $after->{$_} } sort keys %$after], [map { $before->{$_} } sort keys %$before],
              "$what: ... without a single IdP request");
}

# A sign-in refused on its ID token: 401, no session, a page with no token.
sub refused {
    my ($s, $ua, $what) = @_;
    my $cb = $s->{callback};
    is($cb && $cb->code, 401, "$what: callback answers 401");
    ok($cb && !find_set_cookie($cb, 'entra_session'), "$what: no session cookie");
    ok(!defined cookie_value($ua, 'entra_session'), "$what: browser not signed in");
    unlike($cb ? $cb->decoded_content : '', qr/eyJ[A-Za-z0-9_-]{8,}/, "$what: page shows no token");
}

# A sign-in that cannot be checked because the IdP misbehaves: a short 502
# page that dumps nothing, no session, and one warn/error line naming why.
sub unavailable {
    my ($r, $mark, $cause, $what) = @_;
    is($r->code, 502, "$what: 502") or diag($r->status_line . "\n" . $r->decoded_content);
    ok(length($r->content) < 4096, "$what: short page (" . length($r->content) . " bytes)");
    unlike($r->decoded_content, qr/ENTRA[0-9]{5}|curl|eyJ[A-Za-z0-9_-]{8,}/,
           "$what: the page dumps no internals");
    ok(!find_set_cookie($r, 'entra_session'), "$what: no session cookie");
    my @l = entra_problems($mark);
    is(scalar @l, 1, "$what: exactly one warn/error log line") or diag(join "\n", @l);
    like($l[0] // '', $cause, "$what: ... naming the cause");
}

# Starts a sign-in and gets the code from Entra; the caller changes the
# world, then finish_callback() brings the code back.
sub at_entra {
    my ($ua, $vh, $path) = @_;
    my $start = start_login($ua, $vh, $path);
    return authorize_at_mock($ua, $start);
}

sub jwks_count { mock_stats()->{requests}{jwks} }

mock_reset();

# ------------------------------------------------- forged ID / API tokens
{
    my $vh = 'hostile_tokens';
    my $alice = new_ua();
    is(sign_in($alice, $vh, '/app/first')->code, 200, "$vh: signed in (keys cached)");

    # v1 issuer (https://sts.windows.net/{tid}/) on an app that signs in at v2
    mock_config({ bad_token => 'v1_issuer' });
    my $mark = log_mark();
    my $ua = new_ua();
    my (undef, $s) = sign_in($ua, $vh, '/app/v1iss');
    refused($s, $ua, 'v1 issuer on a v2 app');
    ok(scalar(grep { /\biss/i && /sts\.windows\.net/ } entra_problems($mark)),
       'v1 issuer: the log line names the issuer it got');

    # a claim nested 2200 deep: jansson gives up, the token with it
    mock_config({ bad_token => 'deep_json' });
    $mark = log_mark();
    $ua = new_ua();
    (undef, $s) = sign_in($ua, $vh, '/app/deep');
    refused($s, $ua, 'deeply nested JSON in the ID token');
    ok(scalar(entra_problems($mark)), 'deep JSON: a log line');
    my $deep = api_token(bad => 'deep_json');
    ok(length($deep) < 8000, 'deep JSON access token fits a request header (' . length($deep) . ')');
    ok(is_api_challenge(raw_get($vh, '/api/deep', undef, Authorization => "Bearer $deep")),
       'deeply nested JSON in an access token: 401 with a Bearer challenge');

    # kid "../../../../etc/passwd/..%2f..%2fkeys\..\x?kid=1#frag", good signature
    mock_config({ bad_token => 'kid_path' });
    my $j0 = jwks_count();
    $mark = log_mark();
    $ua = new_ua();
    (undef, $s) = sign_in($ua, $vh, '/app/kidpath');
    refused($s, $ua, 'kid with path characters');
    my @l = entra_problems($mark);
    ok(scalar(grep { /\bkid\b|key/i } @l), 'kid path: the log line names the key') or diag(join "\n", @l);
    my $kp = api_token(bad => 'kid_path');
    ok(is_api_challenge(raw_get($vh, '/api/kidpath', undef, Authorization => "Bearer $kp")),
       'kid with path characters in an access token: 401 with a Bearer challenge');
    ok(jwks_count() - $j0 <= 1, 'kid path: at most one JWKS refetch, from the JWKS URL only');
    is(mock_stats()->{last}{jwks}{path}, '/tokens.contoso.test/discovery/v2.0/keys',
       'kid path: the kid never became part of a URL');

    mock_config({ bad_token => undef });
    still_signed_in($alice, $vh, 'forged tokens');
    ok(is_api_challenge(raw_get($vh, '/api/none')), 'API without a token: challenge, server alive');
    my $good = api_token();
    is(raw_get($vh, '/api/good', undef, Authorization => "Bearer $good")->code, 200,
       'a good access token right after: 200');
}

# ------------------------------------------------------------ huge JWKS
{
    my $vh = 'hostile_huge';
    mock_reset();
    mock_config({ jwks_shape => 'huge' });
    my $ua = new_ua();
    my $code = at_entra($ua, $vh, '/app/huge');
    my $mark = log_mark();
    unavailable(finish_callback($ua, $code), $mark, qr/JWKS.*(?:large|limit|bytes)/i,
                'huge JWKS (cold cache)');
    ok(!defined cookie_value($ua, 'entra_session'), 'huge JWKS: browser not signed in');

    $mark = log_mark();
    my $r = raw_get($vh, '/api/huge', undef, Authorization => 'Bearer ' . api_token());
    is($r->code, 502, 'huge JWKS: an API call cannot be checked either (502, not 200)');
    is(scalar(entra_problems($mark)), 1, 'huge JWKS: ... one log line');

    # A failed first fetch is the answer for a short back-off (an
    # unreachable Entra costs one timeout, not one per request), then asked again.
    mock_config({ jwks_shape => undef });
    my $jwks_calls = mock_stats()->{requests}{jwks} // 0;
    $r = raw_get($vh, '/api/huge', undef, Authorization => 'Bearer ' . api_token());
    is($r->code, 502, 'the JWKS is sane again, within the back-off: still 502 ...');
    is(mock_stats()->{requests}{jwks} // 0, $jwks_calls, '... answered from the failure, no fetch');
    advance_clock(ENTRA_FETCH_BACKOFF + 1);    # on the module's test clock
    is(sign_in(new_ua(), $vh, '/app/huge-after')->code, 200,
       'after the back-off: sign-in works (the failure is not kept)');
}

# --------------------------------- keys rotate mid-sign-in to an unusable JWKS
{
    my $vh = 'hostile_nokey';
    mock_reset();
    my $alice = new_ua();
    is(sign_in($alice, $vh, '/app/first')->code, 200, "$vh: signed in (keys cached)");
    my $ua = new_ua();
    my $code = at_entra($ua, $vh, '/app/nokey');
    mock_config({ jwks_shape => 'no_usable_key' });
    rotate_keys();
    my $mark = log_mark();
    unavailable(finish_callback($ua, $code), $mark, qr/no usable RSA signing key/,
                'keys rotated mid-sign-in, JWKS without a usable key');
    still_signed_in($alice, $vh, 'JWKS without a usable key');
    mock_config({ jwks_shape => undef });
    rotate_keys(restore => 1);
}

# --------------------- discovery moves the JWKS while keys rotate mid-sign-in
{
    my $vh = 'hostile_moved';
    mock_reset();
    my $alice = new_ua();
    is(sign_in($alice, $vh, '/app/first')->code, 200, "$vh: signed in (keys cached)");
    my $stats = mock_stats()->{requests};
    my ($d0, $j0) = ($stats->{discovery}, $stats->{jwks});

    my $ua = new_ua();
    my $code = at_entra($ua, $vh, '/app/moved');
    mock_config({ discovery_override =>
                  { jwks_uri => '{base}/{tenant}/discovery/v2.0/keys?appid=' . CLIENT_ID } });
    rotate_keys();
    my $mark = log_mark();
    my $r = finish_callback($ua, $code);
    is($r->code, 302, 'keys rotated and moved mid-sign-in: the callback signs the user in');
    is(follow($ua, $r)->code, 200, '... and the app answers');
    $stats = mock_stats();
    is($stats->{requests}{discovery} - $d0, 1, '... after reading the discovery document again');
    is($stats->{requests}{jwks} - $j0, 1, '... and the JWKS once, ');
    is($stats->{last}{jwks}{query}, 'appid=' . CLIENT_ID, '... from the new jwks_uri');
    is(scalar(entra_problems($mark)), 0, '... with nothing to warn about');
    still_signed_in($alice, $vh, 'discovery moved the JWKS');
    rotate_keys(restore => 1);
}

# ------------------------------- discovery names another issuer: refused
{
    my $vh = 'hostile_issuer';
    mock_reset();
    my $alice = new_ua();
    is(sign_in($alice, $vh, '/app/first')->code, 200, "$vh: signed in (keys cached)");
    mock_config({ discovery_override => { issuer => "{base}/$FOREIGN_TID/v2.0" } });
    rotate_keys();
    my $mark = log_mark();
    my $ua = new_ua();
    is(sign_in($ua, $vh, '/app/issuer')->code, 200,
       'discovery now names another issuer: sign-in goes on with the issuer in use');
    my @l = entra_problems($mark);
    is(scalar @l, 1, '... one log line') or diag(join "\n", @l);
    like($l[0] // '', qr/\[auth_entra:warn\].*changed its issuer.*\Q$FOREIGN_TID\E/,
         '... a warning naming the issuer it refused');

    # a token from that other issuer is no good here
    mock_config({ bad_token => 'wrong_iss' });
    $ua = new_ua();
    my (undef, $s) = sign_in($ua, $vh, '/app/foreign');
    refused($s, $ua, 'token from the issuer the changed document named');
    still_signed_in($alice, $vh, 'discovery named another issuer');
    rotate_keys(restore => 1);
}

# -------------------------- discovery points at a JWKS that is not there
{
    my $vh = 'hostile_gone';
    mock_reset();
    my $alice = new_ua();
    is(sign_in($alice, $vh, '/app/first')->code, 200, "$vh: signed in (keys cached)");
    mock_config({ discovery_override => { jwks_uri => '{base}/{tenant}/discovery/v2.0/gone' } });
    rotate_keys();
    my $ua = new_ua();
    my $code = at_entra($ua, $vh, '/app/gone');
    my $mark = log_mark();
    unavailable(finish_callback($ua, $code), $mark, qr/JWKS.*404/,
                'new keys behind a jwks_uri that answers 404');
    still_signed_in($alice, $vh, 'discovery pointed at nothing');
    rotate_keys(restore => 1);
}

# ----------------------------------------- discovery stops being JSON
{
    my $vh = 'hostile_garbled';
    mock_reset();
    my $alice = new_ua();
    is(sign_in($alice, $vh, '/app/first')->code, 200, "$vh: signed in (keys cached)");
    mock_config({ malformed => { discovery => JSON::PP::true() } });
    rotate_keys();
    my $mark = log_mark();
    my $ua = new_ua();
    is(sign_in($ua, $vh, '/app/garbled')->code, 200,
       'discovery document garbled while keys rotate: sign-in goes on with the one in use');
    my @l = entra_problems($mark);
    is(scalar @l, 1, '... one log line') or diag(join "\n", @l);
    like($l[0] // '', qr/\[auth_entra:warn\].*discovery.*(?:JSON|unusable).*keeping/i,
         '... a warning that it kept the document fetched before');
    still_signed_in($alice, $vh, 'discovery garbled');
    rotate_keys(restore => 1);
}

mock_reset();
# The mock is back on the keys every other vhost has cached.
is(sign_in(new_ua(), 'entra_main', '/app/after-hostile-idp')->code, 200,
   'entra_main signs in after all that (its cache still good)');

done_testing();
