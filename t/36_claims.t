# Claims for the app: several REMOTE_USER claims (first present wins),
# EntraUserInfo oidc|graph merged into the claims, EntraClaimMap with
# fallbacks, EntraScope with Graph scopes and offline_access,
# EntraPassAccessToken (and spoofed token headers stripped), EntraDomainHint,
# EntraPrompt and login_hint/domain_hint passed through.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP ();
use HTTP::Request;
use URI;
use EntraTest;
use EntraSeeds;

my $U = USER;

# ------------------------------------------- Graph /me merged, claim maps --
mock_reset();
my $mark = log_mark();
my $n_graph = mock_stats()->{requests}{graph};
my $ua = new_ua();
my ($final, $s) = sign_in($ua, 'app_claims', '/app/claims');
is($final->code, 200, 'EntraUserInfo graph: signed in');
is(mock_stats()->{requests}{graph} - $n_graph, 1, '... one call to Graph');
is(mock_stats()->{last}{graph}{path}, '/v1.0/me', '... GET /v1.0/me');
my $h = claims_of($final);
is(claim($h, 'givenName'), 'Adele', 'X-Entra-Claim-givenName (Graph)');
is(claim($h, 'surname'), 'Vance', 'X-Entra-Claim-surname (Graph)');
is(claim($h, 'displayName'), $U->{name}, 'X-Entra-Claim-displayName (Graph)');
is(claim($h, 'userPrincipalName'), $U->{preferred_username}, 'X-Entra-Claim-userPrincipalName (Graph)');
is(claim($h, 'mail'), $U->{email}, 'X-Entra-Claim-mail (Graph)');
is(claim($h, 'id'), $U->{oid}, 'X-Entra-Claim-id (Graph)');
is(claim($h, 'jobTitle'), 'Retail Manager', 'X-Entra-Claim-jobTitle (Graph)');
is(claim($h, 'businessPhones'), '+1 425 555 0109', 'X-Entra-Claim-businessPhones (array joined)');
ok(echo($final) && !has_claim($h, 'mobilePhone'), 'a null Graph property (mobilePhone) gives no header');
ok(echo($final) && !has_claim($h, '@odata.context') && !grep({ /odata/ } keys %$h), 'no @odata.* header');
is(claim($h, 'oid'), $U->{oid}, 'ID token claims still there (oid)');
is(claim($h, 'preferred_username'), $U->{preferred_username}, '... (preferred_username)');
# maps
is(claim($h, 'email'), $U->{email}, 'EntraClaimMap email mail userPrincipalName: mail');
is(claim($h, 'first_name'), 'Adele', 'EntraClaimMap first_name givenName given_name');
is(claim($h, 'uid'), $U->{oid}, 'EntraClaimMap uid id');
ok(echo($final) && !has_claim($h, 'nickname'), 'EntraClaimMap with no source present: no claim');
is(scalar(@{ $h->{'x-test-env-first-name'} || [] }) ? $h->{'x-test-env-first-name'}[0] : undef, 'Adele',
   'a mapped claim is in the environment too (ENTRA_CLAIM_first_name)');
# REMOTE_USER: upn email preferred_username; the token has no upn -> email
is(remote_user($h), $U->{email}, 'REMOTE_USER: upn absent, email next');
is(scalar(entra_problems($mark)), 0, 'no warnings or errors');

# mail set in Graph: the map takes it; and the token's own email claim is replaced by the map
mock_reset();
mock_config({ user => { mail => 'adele.mail@contoso.test' } });
$h = claims_of(sign_in(new_ua(), 'app_claims', '/app/claims-mail'));
is(claim($h, 'mail'), 'adele.mail@contoso.test', 'Graph mail differs from the token\'s email');
is(claim($h, 'email'), 'adele.mail@contoso.test', '... EntraClaimMap email: the first source (mail) wins');

# no mail in Graph: fall back to userPrincipalName
mock_reset();
mock_config({ user => { mail => undef, email => undef } });
$final = sign_in(new_ua(), 'app_claims', '/app/claims-no-mail');
$h = claims_of($final);
ok(echo($final) && !has_claim($h, 'mail'), 'Graph mail null: no mail header');
is(claim($h, 'email'), $U->{preferred_username}, '... EntraClaimMap email falls back to userPrincipalName');
is(remote_user($h), $U->{preferred_username}, '... REMOTE_USER: no upn, email (mapped) wins');

# upn in the token: first REMOTE_USER claim
mock_reset();
mock_config({ user => { upn => 'adele.upn@contoso.test' } });
$h = claims_of(sign_in(new_ua(), 'app_claims', '/app/claims-upn'));
is(remote_user($h), 'adele.upn@contoso.test', 'REMOTE_USER: upn present, first wins');
is(claim($h, 'userPrincipalName'), 'adele.upn@contoso.test', '... Graph userPrincipalName = upn');

# per-directory REMOTE_USER claims, from a mapped claim
mock_reset();
$ua = new_ua();
$final = sign_in($ua, 'app_claims', '/app/by-uid/x');
is(remote_user(claims_of($final)), $U->{oid}, '<Location> EntraRemoteUserClaim no_such_claim uid: REMOTE_USER = uid (mapped)');

# Graph failing: the sign-in fails (502), no session, a log line
for my $how ([fail => { fail => { graph => 503 } }], [malformed => { malformed => { graph => JSON::PP::true() } }],
             [drop => { drop => { graph => JSON::PP::true() } }]) {
    mock_reset();
    mock_config($how->[1]);
    $mark = log_mark();
    my $b = new_ua();
    my (undef, $st) = sign_in($b, 'app_claims', "/app/graph-$how->[0]");
    is($st->{callback} && $st->{callback}->code, 502, "Graph /me $how->[0]: 502");
    is(mock_stats()->{requests}{graph}, 1, "Graph /me $how->[0]: the mock's Graph was called (the 502 is its answer)");
    ok(!defined cookie_value($b, 'entra_session'), "Graph /me $how->[0]: no session");
    ok(scalar(grep { /ENTRA[0-9]{5}:/ && /graph|\/v1\.0\/me/i } entra_problems($mark)), "Graph /me $how->[0]: the log says Graph")
        or diag(join "\n", entra_problems($mark));
}

# ---------------------------------------------------- userinfo (oidc) -----
mock_reset();
$mark = log_mark();
my $n_ui = mock_stats()->{requests}{userinfo};
$final = sign_in(new_ua(), 'app_userinfo', '/app/userinfo');
is($final->code, 200, 'EntraUserInfo oidc: signed in');
is(mock_stats()->{requests}{userinfo} - $n_ui, 1, '... one call to the userinfo endpoint');
is(mock_stats()->{last}{userinfo}{path}, '/oidc/userinfo', '... the one discovery names');
$h = claims_of($final);
is(claim($h, 'given_name'), 'Adele', 'given_name from userinfo (the v2 ID token lacks it)');
is(claim($h, 'family_name'), 'Vance', 'family_name from userinfo');
like(claim($h, 'picture') // '', qr{/v1\.0/me/photo/\$value$}, 'picture from userinfo');
is(claim($h, 'sub'), $U->{sub}, 'sub (the same user)');
is(claim($h, 'name'), $U->{name}, 'name: one value (not duplicated)');
is(scalar(entra_problems($mark)), 0, 'no warnings or errors');

# ID token claims win over the profile
mock_reset();
mock_config({ user => { given_name => 'Addie' } });
$h = claims_of(sign_in(new_ua(), 'app_userinfo', '/app/userinfo-token-wins'));
is(claim($h, 'given_name'), 'Addie', 'the ID token\'s given_name (optional claim) kept, userinfo adds only what is missing');

mock_reset();
mock_config({ fail => { userinfo => 500 } });
$mark = log_mark();
my (undef, $st) = sign_in(new_ua(), 'app_userinfo', '/app/userinfo-500');
is($st->{callback} && $st->{callback}->code, 502, 'userinfo failing: 502');
is(mock_stats()->{requests}{userinfo}, 1, '... the mock\'s userinfo was called (the 502 is its answer)');
ok(scalar(grep { /userinfo/i } entra_problems($mark)), '... the log says userinfo');

# ------------------------------ scopes and the access token passed on -----
mock_reset();
$mark = log_mark();
$ua = new_ua();
my $t0 = time;
($final, $s) = sign_in($ua, 'app_token', '/app/token');
my @scopes = split ' ', $s->{authorize_params}{scope} // '';
my %sc = map { $_ => 1 } @scopes;
ok($sc{openid}, 'EntraScope without openid: openid added');
ok($sc{$_}, "scope $_ requested") for qw(profile email offline_access User.Read Calendars.Read);
is(scalar(grep { $_ eq 'openid' } @scopes), 1, '... openid once');
is($final->code, 200, 'signed in');
$h = claims_of($final);
my $at = $h->{'x-entra-access-token'} || [];
is(scalar @$at, 1, 'X-Entra-Access-Token: exactly one');
my $token = $at->[0] // '';
record_secret('access_token', $token);
my ($code, $me) = graph_me($token);
is($code, 200, '... it is a live token: the mock\'s Graph accepts it');
is($me && $me->{id}, $U->{oid}, '... for this user');
my $exp = $h->{'x-entra-access-token-expires'} || [];
is(scalar @$exp, 1, 'X-Entra-Access-Token-Expires: exactly one');
like($exp->[0] // '', qr/^[0-9]{10}$/, '... epoch seconds');
ok(($exp->[0] // 0) > $t0 + 600 && ($exp->[0] // 0) <= time + 3600 + 5, '... about an hour from now (expires_in)');
is($h->{'x-test-env-access-token'}[0], $token, 'ENTRA_ACCESS_TOKEN in the environment');
ok(echo($final) && !has_claim($h, 'access_token'), 'not also as a claim header');
is(scalar(entra_problems($mark)), 0, 'no warnings or errors');
is($ua->get(url('app_token', '/.auth/refresh'))->code, 200, 'offline_access: the refresh token was kept (/.auth/refresh 200)');

# spoofed token headers from the client are stripped
my $req = HTTP::Request->new(GET => url('app_token', '/app/token-spoof'));
$req->headers->push_header(':X-Entra-Access-Token' => 'forged-token');
$req->headers->push_header(':x_entra_access_token' => 'forged-token-2');
$req->headers->push_header(':X-Entra-Access-Token-Expires' => '4102444800');
my $r = $ua->request($req);
$h = claims_of($r);
is(scalar @{ $h->{'x-entra-access-token'} || [] }, 1, 'spoofed X-Entra-Access-Token: only one reaches the backend');
unlike(join(',', @{ $h->{'x-entra-access-token'} || [] }), qr/forged/, '... the real one');
unlike(join(',', @{ $h->{'x-entra-access-token-expires'} || [] }), qr/4102444800/, '... and the real expiry');

# without EntraPassAccessToken: no token header at all, spoofed ones gone too
$ua = new_ua();
sign_in($ua, 'app_claims', '/app/x');
$req = HTTP::Request->new(GET => url('app_claims', '/app/no-token'));
$req->headers->push_header(':X-Entra-Access-Token' => 'forged-token');
$req->headers->push_header(':X-Entra-Access-Token-Expires' => '4102444800');
$r = $ua->request($req);
$h = claims_of($r);
ok(echo($r) && !exists $h->{'x-entra-access-token'}, 'EntraPassAccessToken Off: no X-Entra-Access-Token (spoofed one removed)');
ok(echo($r) && !exists $h->{'x-entra-access-token-expires'}, '... no X-Entra-Access-Token-Expires');

# ------------------------------------------------------ login parameters ---
sub authorize_of {
    my ($vh, $path) = @_;
    my $r = new_ua()->get(url($vh, $path));
    return ($r->code, abs_location($r) // '');
}
my ($c, $au) = authorize_of('app_hints', '/app/hints');
is($c, 302, 'EntraDomainHint/EntraPrompt: 302 to Entra');
is_deeply([authorize_all($au, 'domain_hint')], ['contoso.test'], '... domain_hint=contoso.test');
is_deeply([authorize_all($au, 'prompt')], ['select_account'], '... prompt=select_account');
is_deeply([authorize_all($au, 'login_hint')], [], '... no login_hint unless asked');

($c, $au) = authorize_of('app_hints', '/app/hints?login_hint=adele%40contoso.test&domain_hint=fabrikam.test');
is_deeply([authorize_all($au, 'login_hint')], ['adele@contoso.test'], 'login_hint from the request query passed through');
is_deeply([authorize_all($au, 'domain_hint')], ['fabrikam.test'], 'domain_hint from the request query wins (once)');
is_deeply([authorize_all($au, 'prompt')], ['select_account'], '... prompt unchanged');

# hints cannot smuggle other parameters
($c, $au) = authorize_of('app_hints', '/app/hints?login_hint=a%26prompt%3Dnone%26redirect_uri%3Dhttp%3A%2F%2Fevil.example%2F');
is_deeply([authorize_all($au, 'login_hint')], ['a&prompt=none&redirect_uri=http://evil.example/'],
          'a login_hint holding "&prompt=..." stays one encoded value');
is_deeply([authorize_all($au, 'prompt')], ['select_account'], '... no injected prompt');
is(scalar(authorize_all($au, 'redirect_uri')), 1, '... no injected redirect_uri');
is((authorize_all($au, 'redirect_uri'))[0], base_url('app_hints') . '/.auth/login/aad/callback', '... ours');

# a vhost without EntraDomainHint/EntraPrompt
($c, $au) = authorize_of('app_claims', '/app/nohints');
is_deeply([authorize_all($au, 'prompt')], [], 'no EntraPrompt: no prompt');
is_deeply([authorize_all($au, 'domain_hint')], [], 'no EntraDomainHint: no domain_hint');
($c, $au) = authorize_of('app_claims', '/app/nohints?domain_hint=contoso.test&login_hint=adele');
is_deeply([authorize_all($au, 'domain_hint')], ['contoso.test'], '... but domain_hint from the query is passed through');
is_deeply([authorize_all($au, 'login_hint')], ['adele'], '... and login_hint');

# the mock saw them, and the sign-in completes with them
mock_reset();
($final, $s) = sign_in(new_ua(), 'app_hints', '/app/hints-signin?login_hint=adele%40contoso.test');
is($final->code, 200, 'a sign-in with hints completes');
is(mock_stats()->{last}{authorize}{login_hint}, 'adele@contoso.test', '... Entra received login_hint');
is(mock_stats()->{last}{authorize}{domain_hint}, 'contoso.test', '... and domain_hint');
is((echo($final) || {})->{query}, 'login_hint=adele%40contoso.test', '... and the app its original query');

mock_reset();
# ------------------------------------------------------- start-up checks --
configtest_passes('claims directives', ['EntraUserInfo graph', 'EntraClaimMap email mail userPrincipalName',
                                        'EntraClaimMap uid id', 'EntraPassAccessToken On', 'EntraDomainHint contoso.com',
                                        'EntraPrompt login', 'EntraScope openid offline_access https://graph.microsoft.com/User.Read'],
                  location => ['Require valid-user', 'EntraRemoteUserClaim email upn oid']);
configtest_fails('EntraClaimMap without a source', ['EntraClaimMap email'], qr/EntraClaimMap/);
configtest_fails('EntraPrompt bogus', ['EntraPrompt always'], qr/EntraPrompt/);
configtest_fails('EntraPassAccessToken maybe', ['EntraPassAccessToken maybe'], qr/EntraPassAccessToken/);
configtest_fails('EntraRemoteUserClaim with no claim', [], qr/EntraRemoteUserClaim/, location => ['Require valid-user', 'EntraRemoteUserClaim']);

done_testing();
