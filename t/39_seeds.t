# The five products of ../shared/seeds/: each has conf/examples/<product>.conf
# and a vhost mirroring it in t/conf/setups.conf.in (the mock as authority).
# Each signs in and the backend gets what that product's guide expects the
# app to receive.  Every example passes `httpd -t`, and says the same as its
# vhost.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Spec;
use URI;
use EntraTest;
use EntraSeeds;

my $U = USER;
my $base = mock_base();

# ------------------------------------------------------------ Rocket.Chat --
# v1 endpoints, scope openid, token in the payload, identity from
# /openid/userinfo, users merged by e-mail.
{
    my $vh = 'app_rocketchat';
    mock_reset();
    my $mark = log_mark();
    my $ua = new_ua();
    my ($final, $s) = sign_in($ua, $vh, '/home');
    is(URI->new($s->{authorize_url} // '')->path, '/' . TENANT . '/oauth2/authorize',
       'rocketchat: Authorize Path /oauth2/authorize (v1) under the tenant');
    is($s->{authorize_params}{scope}, 'openid', 'rocketchat: Scope openid');
    my $st = mock_stats();
    is($st->{last}{token}{auth_method}, 'client_secret_post', 'rocketchat: token sent via payload (client_secret_post)');
    is($st->{last}{userinfo}{path}, '/' . TENANT . '/openid/userinfo', 'rocketchat: identity from /{tid}/openid/userinfo');
    ok($st->{last}{userinfo}{v1}, '... the v1 userinfo');
    is($final->code, 200, 'rocketchat: signed in, the app is reached');
    my $h = claims_of($final);
    is($h->{'x-remote-user'}[0], $U->{preferred_username}, 'rocketchat: X-Remote-User = upn');
    is(claim($h, 'email'), $U->{preferred_username}, 'rocketchat: email for merging users = upn (no optional email claim)');
    is(claim($h, 'ver'), '1.0', 'rocketchat: v1 token');
    is(claim($h, 'iss'), 'https://sts.windows.net/' . TENANT . '/', 'rocketchat: sts.windows.net issuer');
    is(claim($h, 'name'), $U->{name}, 'rocketchat: name');
    is(claim($h, 'oid'), $U->{oid}, 'rocketchat: oid (stable id)');
    is(claim($h, 'ipaddr'), '127.0.0.1', 'rocketchat: userinfo claims merged (ipaddr)');
    is(scalar(entra_problems($mark)), 0, 'rocketchat: no warnings or errors');

    mock_reset();
    mock_config({ user => { email => 'adele.vance@contoso.test' } });    # the optional claim configured
    $h = claims_of(sign_in(new_ua(), $vh, '/home'));
    is(claim($h, 'email'), 'adele.vance@contoso.test', 'rocketchat: with the optional email claim, that address');
    is($h->{'x-remote-user'}[0], $U->{preferred_username}, '... REMOTE_USER still the upn');
}

# ------------------------------------------------------------------ WorkOS --
# Personal Microsoft accounts only; optional claims email/given_name/
# family_name; extra scopes on every request; Microsoft's tokens to the app.
{
    my $vh = 'app_workos';
    mock_reset();
    mock_config({ user => { email => 'adele@outlook.test', preferred_username => 'adele@outlook.test',
                            given_name => 'Adele', family_name => 'Vance' } });
    my $mark = log_mark();
    my $ua = new_ua();
    my ($final, $s) = sign_in($ua, $vh, '/dashboard');
    is(URI->new($s->{authorize_url} // '')->path, '/consumers/oauth2/v2.0/authorize',
       'workos: "Personal Microsoft accounts only" = the consumers endpoint');
    my %sc = map { $_ => 1 } split ' ', $s->{authorize_params}{scope} // '';
    ok($sc{$_}, "workos: scope $_ on the request") for qw(openid profile email offline_access User.Read Mail.Read);
    is($final->code, 200, 'workos: a personal account signs in');
    my $h = claims_of($final);
    is(claim($h, 'tid'), CONSUMERS_TID, 'workos: tid = the Microsoft-account tenant');
    is(claim($h, 'email'), 'adele@outlook.test', 'workos: email (optional claim)');
    is(claim($h, 'given_name'), 'Adele', 'workos: given_name (optional claim)');
    is(claim($h, 'family_name'), 'Vance', 'workos: family_name (optional claim)');
    is($h->{'x-remote-user'}[0], 'adele@outlook.test', 'workos: X-Remote-User = preferred_username (the account\'s sign-in name), not email');
    my $at = $h->{'x-entra-access-token'} || [];
    is(scalar @$at, 1, 'workos: Microsoft\'s access token is returned to the app');
    like($at->[0] // '', qr/^EwB/, '... as Microsoft issues it for personal accounts (opaque, not a JWT)');
    record_secret('access_token', $at->[0]);
    my ($code, $me) = graph_me($at->[0] // '');
    is($code, 200, '... usable at Graph');
    like(($h->{'x-entra-access-token-expires'} || [])->[0] // '', qr/^[0-9]{10}$/, 'workos: with its expiry');
    is($ua->get(url($vh, '/.auth/refresh'))->code, 200, 'workos: offline_access: the refresh token is kept');
    is(scalar(entra_problems($mark)), 0, 'workos: no warnings or errors');

    # without the optional claims configured, userinfo fills the names in
    mock_reset();
    mock_config({ user => { email => 'adele@outlook.test', preferred_username => 'adele@outlook.test' } });
    $h = claims_of(sign_in(new_ua(), $vh, '/dashboard'));
    is(claim($h, 'given_name'), 'Adele', 'workos: no optional given_name: from userinfo');
    is(claim($h, 'family_name'), 'Vance', 'workos: no optional family_name: from userinfo');

    # a work account is not a personal one
    mock_reset();
    mock_config({ user => { tid => TENANT } });
    my (undef, $st) = sign_in(new_ua(), $vh, '/dashboard');
    is($st->{callback} && $st->{callback}->code, 401, 'workos: a work account does not get in (401 at the callback)');
    ok(!find_set_cookie($st->{callback}, 'entra_session'), 'workos: ... no session');
}

# --------------------------------------------------------------- Botpress --
# v2, openid profile email, userinfo, fieldMapping email -> email, callback
# under the app, no self sign-up: only known users.
{
    my $vh = 'app_botpress';
    my $cb = '/api/v1/auth/login-callback/oauth2/entra';
    mock_reset();
    my $mark = log_mark();
    my $ua = new_ua();
    my ($final, $s) = sign_in($ua, $vh, '/admin/');
    is(URI->new($s->{authorize_url} // '')->path, '/' . TENANT . '/oauth2/v2.0/authorize', 'botpress: v2 authorization URL');
    is_deeply([sort split ' ', $s->{authorize_params}{scope} // ''], [qw(email openid profile)], 'botpress: scope openid profile email');
    is($s->{authorize_params}{redirect_uri}, base_url($vh) . $cb, 'botpress: callbackURL under the app');
    is($s->{callback} && $s->{callback}->code, 302, 'botpress: the callback is answered by Apache, not proxied to the app');
    is(mock_stats()->{requests}{userinfo}, 1, 'botpress: userInfoURL called');
    is($final->code, 200, 'botpress: a collaborator (group member) signs in');
    my $h = claims_of($final);
    is(claim($h, 'email'), $U->{email}, 'botpress: fieldMapping email -> email');
    is($h->{'x-remote-user'}[0], $U->{preferred_username}, 'botpress: X-Remote-User = preferred_username (email is mutable)');
    is(claim($h, 'given_name'), 'Adele', 'botpress: profile from userinfo (given_name)');
    is(scalar(entra_problems($mark)), 0, 'botpress: no warnings or errors');

    # no email: the mapping falls back to the sign-in name
    mock_reset();
    mock_config({ user => { email => undef } });
    $h = claims_of(sign_in(new_ua(), $vh, '/admin/'));
    is(claim($h, 'email'), $U->{preferred_username}, 'botpress: no email claim: email = preferred_username');

    # allowSelfSignup false: someone not in the collaborators group
    mock_reset();
    mock_config({ user => { groups => ['2f6a4c1e-0000-4000-8000-00000000a002'] } });
    my $b = new_ua();
    ($final, $s) = sign_in($b, $vh, '/admin/');
    denied_page_ok($final, '2f6a4c1e-0000-4000-8000-00000000a001', 'botpress: not a known user');
    ok(!echo($final), 'botpress: ... the app never sees the request');
    is($b->get(url($vh, '/admin/'))->code, 403, 'botpress: ... and again 403, no loop');
}

# ---------------------------------------------------------------- PlaceOS --
# v2 with the tenant id, offline_access + Graph scopes, Graph /v1.0/me as the
# profile, info mappings with fallbacks, tokens to the app.
{
    my $vh = 'app_placeos';
    mock_reset();
    mock_config({ user => { mail => 'adele.vance@contoso.test' } });
    my $mark = log_mark();
    my $ua = new_ua();
    my $t0 = time;
    my ($final, $s) = sign_in($ua, $vh, '/backoffice/');
    is(URI->new($s->{authorize_url} // '')->path, '/' . TENANT . '/oauth2/v2.0/authorize', 'placeos: authorize_url with the tenant id');
    my %sc = map { $_ => 1 } split ' ', $s->{authorize_params}{scope} // '';
    ok($sc{$_}, "placeos: scope $_") for qw(openid offline_access Calendars.ReadWrite.Shared Group.Read.All User.Read.All);
    my $st = mock_stats();
    is($st->{last}{token}{auth_method}, 'client_secret_post', 'placeos: token by POST, "Request Body"');
    is($st->{last}{graph}{path}, '/v1.0/me', 'placeos: user_profile_url Graph /v1.0/me');
    is($final->code, 200, 'placeos: signed in');
    my $h = claims_of($final);
    is(claim($h, 'email'), 'adele.vance@contoso.test', 'placeos: email -> mail');
    is(claim($h, 'first_name'), 'Adele', 'placeos: first_name -> givenName');
    is(claim($h, 'last_name'), 'Vance', 'placeos: last_name -> surname');
    is(claim($h, 'uid'), $U->{oid}, 'placeos: uid -> id');
    is($h->{'x-remote-user'}[0], $U->{oid}, 'placeos: X-Remote-User = oid (email is mutable)');
    my $at = ($h->{'x-entra-access-token'} || [])->[0] // '';
    record_secret('access_token', $at);
    my ($code, $me) = graph_me($at);
    is($code, 200, 'placeos: access_token -> token, usable at Graph');
    is($me && $me->{userPrincipalName}, $U->{preferred_username}, '... for this user');
    my $exp = ($h->{'x-entra-access-token-expires'} || [])->[0] // 0;
    ok($exp =~ /^[0-9]{10}$/ && $exp > $t0 && $exp <= time + 3600 + 5, 'placeos: expires_at (epoch seconds, in the future)');
    is(scalar(entra_problems($mark)), 0, 'placeos: no warnings or errors');

    # mail empty in the directory: userPrincipalName
    mock_reset();
    mock_config({ user => { mail => undef, email => undef } });
    $h = claims_of(sign_in(new_ua(), $vh, '/backoffice/'));
    is(claim($h, 'email'), $U->{preferred_username}, 'placeos: no mail: email -> userPrincipalName');
    is($h->{'x-remote-user'}[0], $U->{oid}, '... X-Remote-User still the oid');

    # guest with its own names
    mock_reset();
    mock_config({ user => { given_name => 'Ada', family_name => 'Lovelace', mail => 'ada@fabrikam.test' } });
    $h = claims_of(sign_in(new_ua(), $vh, '/backoffice/'));
    is(claim($h, 'first_name'), 'Ada', 'placeos: first_name follows the profile');
    is(claim($h, 'last_name'), 'Lovelace', 'placeos: last_name follows the profile');
    is(claim($h, 'email'), 'ada@fabrikam.test', 'placeos: email follows the profile');
}

# -------------------------------------------------------------- LibreChat --
# issuer-based discovery, openid profile email, /oauth/openid/callback,
# access restricted to an app role from the ID token's roles claim.
{
    my $vh = 'app_librechat';
    mock_reset();
    my $ua = new_ua();
    my ($final, $s) = sign_in($ua, $vh, '/c/new');
    is_deeply([sort split ' ', $s->{authorize_params}{scope} // ''], [qw(email openid profile)], 'librechat: OPENID_SCOPE openid profile email');
    is($s->{authorize_params}{redirect_uri}, base_url($vh) . '/oauth/openid/callback', 'librechat: OPENID_CALLBACK_URL /oauth/openid/callback');
    denied_page_ok($final, 'LibreChat.User', 'librechat: a user without the required role');
    ok(!echo($final), 'librechat: ... never reaches LibreChat');
    is($ua->get(url($vh, '/c/new'))->code, 403, 'librechat: ... asking again: 403, no login loop');

    mock_reset();
    mock_config({ user => { roles => ['LibreChat.User'] } });
    my $mark = log_mark();
    $ua = new_ua();
    $final = sign_in($ua, $vh, '/c/new');
    is($final->code, 200, 'librechat: a user with the role gets in');
    my $h = claims_of($final);
    is(claim($h, 'roles'), 'LibreChat.User', 'librechat: X-Entra-Claim-roles');
    is(claim($h, 'email'), $U->{email}, 'librechat: email');
    is(claim($h, 'name'), $U->{name}, 'librechat: name');
    is($h->{'x-remote-user'}[0], $U->{preferred_username}, 'librechat: X-Remote-User = preferred_username (email is mutable)');
    is(claim($h, 'iss'), "$base/" . TENANT . '/v2.0', 'librechat: OPENID_ISSUER = {authority}/{tenant}/v2.0');
    is(scalar(entra_problems($mark)), 0, 'librechat: no warnings or errors');
}

# --------------------------------------- the examples: valid and faithful --
my $conf_in = slurp(File::Spec->catfile(conf_dir(), 'setups.conf.in'));
my $logs = Apache::Test::config()->{vars}{t_logs};
my %product_vhost = (rocketchat => 'app_rocketchat', workos => 'app_workos', botpress => 'app_botpress',
                     placeos => 'app_placeos', librechat => 'app_librechat');

# The lines that make the Entra set-up: Entra* directives, AuthType, Require,
# the X-Remote-User header.  Site-specific values (ids, secrets, authority,
# cookie flag) and group ids are left out of the comparison.
sub entra_setup {
    my $text = shift;
    my @l;
    for (split /\n/, $text) {
        s/#.*//;
        s/^\s+|\s+$//g;
        next unless /^(?:Entra\w+|AuthType|Require|RequestHeader\s+set\s+X-Remote-User)\b/;
        next if /^(?:EntraTenant|EntraClientID|EntraClientSecret|EntraSessionKey|EntraAuthority|EntraCookieSecure)\b/
                && !/^EntraTenant\s+(?:common|organizations|consumers)\b/;
        s/\s+/ /g;
        s/^(Require entra-(?:group|tenant))\s.*/$1 <id>/;
        push @l, $_;
    }
    return [sort @l];
}

for my $product (sort keys %product_vhost) {
    my $file = example_file("$product.conf");
    ok(-f $file, "conf/examples/$product.conf exists") or next;
    my $text = slurp($file);
    my ($block) = $conf_in =~ /<VirtualHost \Q$product_vhost{$product}\E>\n(.*?)<\/VirtualHost>/s;
    ok($block, "$product: its vhost $product_vhost{$product} in t/conf/setups.conf.in");
    is_deeply(entra_setup($block // ''), entra_setup($text), "$product: the vhost has the example's Entra set-up");

    example_configtest_ok($product);
}

# the other examples: valid configurations too
for my $extra (qw(multi-tenant us-government kubernetes-workload-identity)) {
    ok(-f example_file("$extra.conf"), "conf/examples/$extra.conf exists") or next;
    example_configtest_ok($extra);
}

# httpd -t on an example, its files (secrets, keys, certificates, the
# federated token) made to exist under t/logs
sub example_configtest_ok {
    my $product = shift;
    my $text = slurp(example_file("$product.conf"));
    my $dir = File::Spec->catdir($logs, "seed_example_$product");
    mkdir $dir;
    my %real = (EntraClientCertificate => slurp(credential_file('client_cert.pem')),
                EntraClientKey         => slurp(credential_file('client_key.pem')));
    my $n = 0;
    $text =~ s{^(\s*(Entra\w+)\s+(?:file:)?)(/\S+)}{
        my ($pre, $directive, $path) = ($1, $2, $3);
        my $local = File::Spec->catfile($dir, 'file' . ++$n);
        spew($local, $real{$directive} // "example-value-0123456789abcdefghijklmnopqrstuvwxyz\n");
        "$pre$local";
    }gme;
    $text =~ s/<VirtualHost \*:\d+>/<VirtualHost 127.0.0.1:9>/g;
    my ($rc, $out) = configtest($text);
    is($rc, 0, "conf/examples/$product.conf passes httpd -t") or diag($out);
    like($out, qr/Syntax OK/, "$product: ... Syntax OK");
}

mock_reset();
done_testing();
