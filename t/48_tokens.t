# Issue 9 ("Security core"), tokens: an ID token without sub is refused; a
# token-endpoint answer whose token_type is not Bearer is unusable (sign-in
# and refresh); a JWS without kid verifies against a JWKS of one signing key
# and never against several (sessions and bearer tokens alike); a profile
# from userinfo or Graph never replaces an ID-token claim nor adds identity
# or authorization claims; EntraRemoteUserClaim with email first warns; a
# GET of /.auth/logout with no Sec-Fetch-Site, Origin or Referer asks first.
# Vhosts: t/conf/tokens.conf.in.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Spec;
use EntraTest;
use EntraSeeds;
use EntraSessions qw(raw_get api_token_json);
use JSON::PP ();

my $U = USER;
my $GROUP = '2f6a4c1e-0000-4000-8000-00000000a001';

sub callback_of { my $s = shift; return $s->{callback} }
sub problems_match {
    my ($mark, $re) = @_;
    return scalar grep { /ENTRA[0-9]{5}:/ && $_ =~ $re } entra_problems($mark);
}

# ------------------------------------------------------ ID token: sub ---
{
    mock_reset();
    mock_config({ user => { sub => undef } });
    my $mark = log_mark();
    my $ua = new_ua();
    my (undef, $s) = sign_in($ua, 'tk_main', '/app/no-sub');
    my $cb = callback_of($s);
    is($cb && $cb->code, 401, 'ID token without sub: 401');
    like($cb ? $cb->decoded_content : '', qr/identity token could not be validated/i,
         '... the page of the other ID-token rejections');
    ok(!defined cookie_value($ua, 'entra_session'), '... no session');
    ok(problems_match($mark, qr/ID token rejected: .*\bsub\b/), '... the log says: no sub')
        or diag(join "\n", entra_problems($mark));

    mock_config({ user => { sub => '' } });
    (undef, $s) = sign_in(new_ua(), 'tk_main', '/app/empty-sub');
    is(callback_of($s) && callback_of($s)->code, 401, 'ID token with an empty sub: 401');

    mock_reset();
    is(sign_in(new_ua(), 'tk_main', '/app/with-sub')->code, 200, 'with sub: signed in');
}

# ------------------------------------------------------ token_type ------
for my $case (['pop', qr/token_type "pop"/], ['DPoP', qr/token_type "DPoP"/],
              [JSON::PP::false(), qr/token_type \(missing\)/]) {
    my ($type, $logged) = @$case;
    my $what = ref $type ? 'no token_type' : "token_type $type";
    mock_reset();
    mock_config({ token_type => $type });
    my $mark = log_mark();
    my $ua = new_ua();
    my (undef, $s) = sign_in($ua, 'tk_main', '/app/token-type');
    my $cb = callback_of($s);
    is($cb && $cb->code, 502, "sign-in, $what: 502");
    like($cb ? $cb->decoded_content : '', qr/unusable answer/, "... the \"unusable answer\" page");
    ok(!defined cookie_value($ua, 'entra_session'), '... no session');
    ok(problems_match($mark, $logged), '... the log names the token_type')
        or diag(join "\n", entra_problems($mark));
}
{
    mock_reset();
    mock_config({ token_type => 'bearer' });
    is(sign_in(new_ua(), 'tk_main', '/app/lower-bearer')->code, 200,
       'token_type "bearer" (another case): signed in');

    # refresh: the same rule on the same code path
    mock_reset();
    my $ua = new_ua();
    is(sign_in($ua, 'tk_main', '/app/before-refresh')->code, 200, 'signed in with offline_access');
    mock_config({ token_type => 'pop' });
    my $mark = log_mark();
    my $r = $ua->get(url('tk_main', '/.auth/refresh'));
    is($r->code, 502, 'refresh answered with token_type pop: 502');
    ok(problems_match($mark, qr/refresh failed: .*token_type "pop"/), '... the log names the token_type')
        or diag(join "\n", entra_problems($mark));
    is($ua->get(url('tk_main', '/app/after-refresh'))->code, 200, '... the session stays');
    # (the mock spent that refresh token, as Entra does: no second try here)
}

# ------------------------------------------------------ JWS without kid --
{
    mock_reset();
    mock_config({ jwks_shape => 'one', no_kid => JSON::PP::true() });
    my $mark = log_mark();
    my $ua = new_ua();
    my ($final, $s) = sign_in($ua, 'tk_kid_one', '/app/no-kid');
    is($final->code, 200, 'no kid, JWKS of one key: signed in');
    my $t = api_token_json();
    ok(!exists $t->{header}{kid}, '... a bearer token without kid too');
    my $r = raw_get('tk_kid_one', '/api/items', undef, Authorization => "Bearer $t->{token}");
    is($r->code, 200, '... accepted') or diag($r->header('WWW-Authenticate') // '');
    is(scalar(entra_problems($mark)), 0, '... no warnings or errors');

    # the only key signed nothing: another key's kid-less token is refused
    my $forged = api_token_json(bad => 'unknown_kid');
    $r = raw_get('tk_kid_one', '/api/items', undef, Authorization => "Bearer $forged->{token}");
    is($r->code, 401, 'no kid, signed by a key not in the JWKS: 401');

    mock_reset();
    mock_config({ jwks_shape => 'several', no_kid => JSON::PP::true() });
    $mark = log_mark();
    $ua = new_ua();
    ($final, $s) = sign_in($ua, 'tk_kid_several', '/app/no-kid');
    my $cb = callback_of($s);
    is($cb && $cb->code, 401, 'no kid, JWKS of several keys: 401');
    ok(!defined cookie_value($ua, 'entra_session'), '... no session');
    ok(problems_match($mark, qr/ID token rejected: .*no kid.*exactly one/), '... the log says why')
        or diag(join "\n", entra_problems($mark));
    my $jwks = mock_stats()->{requests}{jwks};
    $t = api_token_json();
    $r = raw_get('tk_kid_several', '/api/items', undef, Authorization => "Bearer $t->{token}");
    is($r->code, 401, '... a bearer token without kid: 401');
    like($r->header('WWW-Authenticate') // '', qr/invalid_token.*no kid/, '... invalid_token, saying why');
    is(mock_stats()->{requests}{jwks}, $jwks, '... and no JWKS refetch for a token without kid');

    mock_config({ no_kid => JSON::PP::false() });
    is(sign_in(new_ua(), 'tk_kid_several', '/app/with-kid')->code, 200,
       'with kid, JWKS of several keys: signed in');
    $t = api_token_json();
    is(raw_get('tk_kid_several', '/api/items', undef, Authorization => "Bearer $t->{token}")->code,
       200, '... bearer token with kid: 200');
    mock_reset();
}

# ------------------------------------ the profile never over the token --
my %hostile = (
    preferred_username => 'ceo@contoso.test', email => 'ceo@contoso.test',
    upn => 'ceo@contoso.test', unique_name => 'ceo@contoso.test',
    roles => ['Admin'], groups => [$GROUP], wids => ['62e90394-69f5-4237-9190-012177145e10'],
    tid => '0b9d7f3e-5a4c-4e2b-9d1f-6c8a7e5b3d2f', iss => 'https://evil.example/',
    aud => 'someone-else', scp => 'Directory.ReadWrite.All', hasgroups => JSON::PP::true(),
    acrs => ['c1'], amr => ['mfa'], sid => 'forged-sid', _claim_names => { groups => 'src1' },
    nickname => 'Addie',
);
for my $vh (qw(tk_profile_oidc tk_profile_graph)) {
    # the token lacks them all (no roles, no groups, no email scope, no upn)
    mock_reset();
    mock_config({ user => { roles => undef, groups => undef }, profile_override => \%hostile });
    my $mark = log_mark();
    my $ua = new_ua();
    my $final = sign_in($ua, $vh, '/app/profile');
    is($final->code, 200, "$vh: signed in");
    my $h = claims_of($final);
    is(remote_user($h), $U->{preferred_username}, "$vh: REMOTE_USER is the token's preferred_username, not the profile's e-mail or upn");
    is(claim($h, 'preferred_username'), $U->{preferred_username}, "$vh: the token's preferred_username wins");
    for my $name (qw(email upn unique_name roles groups wids scp hasgroups acrs amr)) {
        ok(echo($final) && !has_claim($h, $name), "$vh: no $name from the profile")
            or diag("$name: " . (claim($h, $name) // ''));
    }
    is(claim($h, 'tid'), TENANT, "$vh: tid stays the token's");
    is(claim($h, 'iss'), mock_base() . '/' . TENANT . '/v2.0', "$vh: iss stays the token's");
    is(claim($h, 'aud'), CLIENT_ID, "$vh: aud stays the token's");
    isnt(claim($h, 'sid'), 'forged-sid', "$vh: sid stays the token's");
    is(claim($h, 'nickname'), 'Addie', "$vh: a harmless profile claim is still added");
    is($ua->get(url($vh, '/app/admin'))->code, 403, "$vh: the profile's role Admin grants nothing");
    is($ua->get(url($vh, '/app/group'))->code, 403, "$vh: the profile's group grants nothing");
    is(mock_stats()->{requests}{graph_groups}, 0, "$vh: the profile's _claim_names start no Graph groups call");

    # the token holds them: its values win
    mock_reset();
    mock_config({ profile_override => { roles => ['Owner'], preferred_username => 'ceo@contoso.test' } });
    $ua = new_ua();
    $h = claims_of(sign_in($ua, $vh, '/app/profile-2'));
    is(claim($h, 'roles'), join(',', @{ $U->{roles} }), "$vh: the token's roles, not the profile's");
    is(remote_user($h), $U->{preferred_username}, "$vh: REMOTE_USER still the token's");
    is($ua->get(url($vh, '/app/admin'))->code, 200, "$vh: the token's role Admin works");
}
mock_reset();

# --------------------------------- EntraRemoteUserClaim email first -----
{
    my ($rc, $out) = configtest(configtest_vhost(['EntraRemoteUserClaim email preferred_username']));
    is($rc, 0, 'email first: configtest still passes') or diag($out);
    like($out, qr/\[auth_entra:warn\].*ENTRA00107: .*EntraRemoteUserClaim email first/,
         '... with a warning (warn, ENTRA00107) naming the directive') or diag($out);
    like($out, qr/mutable/, '... saying why');
    ($rc, $out) = configtest(configtest_vhost([], location => ['EntraRemoteUserClaim email', 'Require valid-user']));
    like($out, qr/ENTRA00107: .*:\d+: EntraRemoteUserClaim email first/, '... in a <Location> too, with file and line')
        or diag($out);
    ($rc, $out) = configtest(configtest_vhost(['EntraRemoteUserClaim preferred_username email']));
    is($rc, 0, 'email as a fallback: configtest passes');
    unlike($out, qr/ENTRA00107/, '... without the warning') or diag($out);
    ($rc, $out) = configtest(configtest_vhost([]));
    unlike($out, qr/ENTRA00107/, 'the default (preferred_username): no warning');

    # the documentation recommends no such thing
    my $top = File::Spec->catdir($FindBin::Bin, '..');
    for my $file (glob("$top/conf/examples/*.conf"), "$top/conf/auth_entra.conf", "$top/README") {
        my $text = slurp($file);
        (my $name = $file) =~ s{^\Q$top\E/}{};
        unlike($text, qr/EntraRemoteUserClaim\s+`?email\b/, "$name: no EntraRemoteUserClaim with email first");
    }
    unlike(slurp("$top/README"), qr/\(e\.g\. `email\b/, 'README: email is not the example claim');
}

# ------------------------------------ logout without any site signal ----
{
    my $vh = 'tk_main';
    mock_reset();
    my $ua = new_ua();
    is(sign_in($ua, $vh, '/app/logout')->code, 200, 'signed in');
    my $mark = log_mark();
    my $r = $ua->get(url($vh, '/.auth/logout'));
    is($r->code, 200, 'GET logout with no Sec-Fetch-Site, Origin or Referer: the confirmation page');
    like($r->decoded_content, qr{<form[^>]*method="post"[^>]*action="/\.auth/logout"}i, '... a POST form');
    ok(!location($r), '... no redirect');
    is($ua->get(url($vh, '/app/still'))->code, 200, '... the session survives');
    ok(scalar(grep { /ENTRA00503:/ } entra_lines($mark)), '... logged as started by another site');

    $r = $ua->get(url($vh, '/.auth/logout?post_logout_redirect_uri=/bye'));
    like($r->decoded_content, qr{name="post_logout_redirect_uri" value="/bye"}, '... the return path kept in the form');

    # same-site signals keep working
    for my $c (['Sec-Fetch-Site: same-origin' => ['Sec-Fetch-Site' => 'same-origin']],
               ['Sec-Fetch-Site: none'        => ['Sec-Fetch-Site' => 'none']],
               ['Origin of this site'         => [Origin => base_url($vh)]],
               ['Referer of this site'        => [Referer => url($vh, '/app/page')]]) {
        my ($what, $h) = @$c;
        my $b = new_ua();
        sign_in($b, $vh, '/app/logout');
        $r = $b->get(url($vh, '/.auth/logout'), @$h);
        is($r->code, 302, "GET logout, $what: 302");
        is($b->get(url($vh, '/app/gone'))->code, 302, "... signed out (a new sign-in)");
    }
    # the confirmation form posts back; a POST without any header is no forged form
    my $b = new_ua();
    sign_in($b, $vh, '/app/logout');
    $r = $b->post(url($vh, '/.auth/logout'));
    is($r->code, 302, 'POST logout with no header: 302');
    is($b->get(url($vh, '/app/gone'))->code, 302, '... signed out');
}

mock_reset();
done_testing();
