# Apps moved off Azure App Service run unchanged (issue 12): with
# EntraEasyAuthHeaders On the backend gets App Service's X-MS-CLIENT-PRINCIPAL
# headers, read here the way Microsoft's documentation shows (base64, JSON,
# then the claims by type); client-sent X-MS-* headers never reach it (with
# the directive on or off); /.auth/login/aad?post_login_redirect_uri= starts
# a sign-in that ends on that path, same origin only.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Request;
use JSON::PP ();
use MIME::Base64 qw(decode_base64);
use POSIX qw(strftime);
use EntraTest;

use constant {
    OID_TYPE  => 'http://schemas.microsoft.com/identity/claims/objectidentifier',
    TID_TYPE  => 'http://schemas.microsoft.com/identity/claims/tenantid',
    NAME_TYPE => 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress',
    ROLE_TYPE => 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role',
};

my $vh = 'appservice';

# Microsoft's "Decoding the client principal header": base64, JSON, claims by type
sub client_principal {
    my $value = shift // return undef;
    return undef unless $value =~ m{\A[A-Za-z0-9+/]+={0,2}\z} && length($value) % 4 == 0;
    return eval { JSON::PP->new->utf8->decode(decode_base64($value)) };
}
sub claims_of {
    my ($principal, $typ) = @_;
    return map { $_->{val} } grep { $_->{typ} eq $typ } @{ $principal->{claims} || [] };
}
sub jwt_payload {
    my @parts = split /\./, shift // '';
    return undef unless @parts == 3;
    (my $b = $parts[1]) =~ tr{-_}{+/};
    $b .= '=' x ((4 - length($b) % 4) % 4);
    return eval { JSON::PP->new->utf8->decode(decode_base64($b)) };
}

mock_reset();

# ------------------------------------------------------- the headers ------
my $ua = new_ua();
my $r = sign_in($ua, $vh, '/app/who');
is($r->code, 200, 'signed in on the App Service vhost') or diag($r->status_line);
my $h = echo_headers_norm(echo($r) || {});
my $raw = $h->{'x-ms-client-principal'} || [];
is(scalar @$raw, 1, 'X-MS-CLIENT-PRINCIPAL: one header');
my $p = client_principal($raw->[0]);
ok($p, 'X-MS-CLIENT-PRINCIPAL is standard base64 (padded) of JSON') or diag($raw->[0]);
$p ||= {};
note('principal: ' . JSON::PP->new->canonical->encode($p));
is($p->{auth_typ}, 'aad', 'auth_typ aad');
is($p->{name_typ}, NAME_TYPE, 'name_typ: emailaddress, as App Service');
is($p->{role_typ}, ROLE_TYPE, 'role_typ: the role claim type, as App Service');
is_deeply([claims_of($p, OID_TYPE)], [USER->{oid}], 'oid under objectidentifier');
is_deeply([claims_of($p, TID_TYPE)], [TENANT], 'tid under tenantid');
is_deeply([claims_of($p, 'name')], [USER->{name}], 'the user\'s name');
is_deeply([claims_of($p, 'preferred_username')], [USER->{preferred_username}],
          'preferred_username');
is_deeply([claims_of($p, NAME_TYPE)], [USER->{email}], 'email under emailaddress');
is_deeply([sort(claims_of($p, 'roles'))], [sort @{ USER->{roles} }], 'roles: one entry each');
is_deeply([sort(claims_of($p, 'groups'))], [sort @{ USER->{groups} }], 'groups: one entry each');
ok(!grep({ $_->{typ} eq 'oid' || $_->{typ} eq 'tid' } @{ $p->{claims} || [] }),
   'no claim under its raw name where App Service renames it');
my @not_strings = grep { !defined $_->{val} || ref $_->{val}
                         || !JSON::PP->new->allow_nonref->encode($_->{val}) =~ /^"/ }
                  @{ $p->{claims} || [] };
is(scalar @not_strings, 0, 'every value a string');
ok(!grep({ $_->{typ} =~ /^:/ || $_->{val} =~ /^eyJ/ } @{ $p->{claims} || [] }),
   'no token or session field among the claims');
is_deeply([sort keys %$p], [qw(auth_typ claims name_typ role_typ)], 'exactly App Service\'s keys');

is_deeply($h->{'x-ms-client-principal-name'}, [USER->{preferred_username}],
          'X-MS-CLIENT-PRINCIPAL-NAME: preferred_username');
is_deeply($h->{'x-ms-client-principal-id'}, [USER->{oid}], 'X-MS-CLIENT-PRINCIPAL-ID: oid');
is_deeply($h->{'x-ms-client-principal-idp'}, ['aad'], 'X-MS-CLIENT-PRINCIPAL-IDP: aad');

my $at = $h->{'x-entra-access-token'} || [];
my $exp = $h->{'x-entra-access-token-expires'} || [];
ok(@$at && $at->[0], 'the access token is passed (EntraPassAccessToken)');
is_deeply($h->{'x-ms-token-aad-access-token'}, $at, 'X-MS-TOKEN-AAD-ACCESS-TOKEN: the access token');
# App Service's spelling: UTC, seven fraction digits, Z, as in a raw capture
# of the headers it sends (X-MS-TOKEN-AAD-EXPIRES-ON: 2020-05-10T17:05:01.0000000Z)
like(($h->{'x-ms-token-aad-expires-on'} || [])->[0] // '', qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.0000000Z$/,
     'X-MS-TOKEN-AAD-EXPIRES-ON: yyyy-MM-ddTHH:mm:ss.0000000Z');
is_deeply($h->{'x-ms-token-aad-expires-on'},
          [@$exp ? strftime('%Y-%m-%dT%H:%M:%S.0000000Z', gmtime($exp->[0])) : 'none'],
          'X-MS-TOKEN-AAD-EXPIRES-ON: its expiry, App Service\'s format');
my $idt = ($h->{'x-ms-token-aad-id-token'} || [])->[0];
my $claims = jwt_payload($idt) || {};
is($claims->{oid}, USER->{oid}, 'X-MS-TOKEN-AAD-ID-TOKEN: the ID token of this sign-in');
is($claims->{aud}, CLIENT_ID, '... issued for this app');
ok(!exists $h->{'x-ms-token-aad-refresh-token'}, 'no refresh token is passed');

# ----------------------------------------------------- spoofed headers ----
# ':' keeps HTTP::Headers from canonicalising the names: sent exactly as written
my @spoof = (
    ':X-MS-CLIENT-PRINCIPAL'         => 'eyJhdXRoX3R5cCI6ImV2aWwifQ==',
    ':x_ms_client_principal'         => 'evil-underscore',
    ':X-Ms-Client-Principal-Name'    => 'mallory@evil.example',
    ':x-ms-client-principal-id'      => 'evil-oid',
    ':X_MS_CLIENT_PRINCIPAL_IDP'     => 'evil-idp',
    ':x_ms_token_aad_access_token'   => 'evil-access-token',
    ':X-MS-TOKEN-AAD-ID-TOKEN'       => 'evil-id-token',
    ':X-MS-TOKEN-AAD-REFRESH-TOKEN'  => 'evil-refresh-token',
    ':x-ms-token-aad-expires-on'     => 'evil-expiry',
);
sub spoofed_request {
    my ($ua, $vhost, $path) = @_;
    my $req = HTTP::Request->new(GET => url($vhost, $path));
    $req->headers->push_header(@spoof[2 * $_, 2 * $_ + 1]) for 0 .. $#spoof / 2;
    return $ua->request($req);
}
sub smuggled {
    my $hh = shift;
    return grep { /evil|mallory/ } map { @{ $hh->{$_} } } grep { /^x-ms-/ } keys %$hh;
}
{
    my $s = spoofed_request($ua, $vh, '/app/spoof');
    is($s->code, 200, 'EasyAuth On, signed in: request with spoofed X-MS-* headers served');
    my $hh = echo_headers_norm(echo($s) || {});
    is(scalar(smuggled($hh)), 0, '... no spoofed value reached the backend')
        or diag(join ', ', smuggled($hh));
    is(scalar @{ $hh->{'x-ms-client-principal'} || [] }, 1, '... one X-MS-CLIENT-PRINCIPAL, ours');
    is_deeply([claims_of(client_principal(($hh->{'x-ms-client-principal'} || [])->[0]) || {},
                         OID_TYPE)], [USER->{oid}], '... and it names the real user');
    is_deeply($hh->{'x-ms-client-principal-id'}, [USER->{oid}], '... the real oid');
    ok(!exists $hh->{'x-ms-token-aad-refresh-token'}, '... no refresh token header at all');

    my $anon = spoofed_request(new_ua(), $vh, '/public/spoof');
    is($anon->code, 200, 'EasyAuth On, not signed in, public location: served');
    my $ha = echo_headers_norm(echo($anon) || {});
    is(scalar(grep { /^x-ms-(client-principal|token-)/ } keys %$ha), 0,
       '... no X-MS-CLIENT-PRINCIPAL* or X-MS-TOKEN-* header at all')
        or diag(join ', ', grep { /^x-ms-/ } keys %$ha);
}
{
    # a vhost with EasyAuth Off: a backend moved off App Service trusts them
    my $main = new_ua();
    is(sign_in($main, 'entra_main', '/app/')->code, 200, 'EasyAuth Off: signed in');
    my $s = spoofed_request($main, 'entra_main', '/app/spoof');
    is($s->code, 200, 'EasyAuth Off: request with spoofed X-MS-* headers served');
    my $hh = echo_headers_norm(echo($s) || {});
    is(scalar(grep { /^x-ms-/ } keys %$hh), 0, '... no X-MS-* header reached the backend')
        or diag(join ', ', grep { /^x-ms-/ } keys %$hh);
    my $pub = spoofed_request(new_ua(), 'entra_main', '/public/spoof');
    my $hp = echo_headers_norm(echo($pub) || {});
    is($pub->code, 200, 'EasyAuth Off, no authentication at all (/public): served');
    is(scalar(grep { /^x-ms-/ } keys %$hp), 0, '... no X-MS-* header reached the backend');
}

# ------------------------------------------------- /.auth/login/aad -------
sub login_link {
    my ($target, $raw) = @_;
    my $b = new_ua();
    my $q = $raw // 'post_login_redirect_uri=' . URI::Escape::uri_escape($target);
    my $start = start_login($b, $vh, '/.auth/login/aad?' . $q);
    my %out = (start => $start);
    return %out unless $start->code == 302 && is_login_redirect($start);
    $out{authorize} = authorize_at_mock($b, $start);
    return %out unless $out{authorize}->code == 302;
    $out{callback} = finish_callback($b, $out{authorize});
    $out{back} = location($out{callback});
    $out{final} = follow($b, $out{callback}) if $out{callback}->code == 302;
    return %out;
}
use URI::Escape ();
{
    my %l = login_link('/app/after');
    ok(is_login_redirect($l{start}), '/.auth/login/aad: 302 to Entra')
        or diag($l{start}->status_line);
    is($l{back}, '/app/after', '... the sign-in ends on post_login_redirect_uri');
    is($l{final} && $l{final}->code, 200, '... where the user is signed in');
    is($l{final} && (echo($l{final}) || {})->{path}, '/app/after', '... on the page asked for');

    %l = login_link('/public/page?x=1&y=2');
    is($l{back}, '/public/page?x=1&y=2', 'a path with a query: kept whole');

    %l = login_link(base_url($vh) . '/app/abs');
    is($l{back}, '/app/abs', 'an absolute URL of this site: its path');

    for my $evil ('//evil.example', 'https://evil.example', 'https://evil.example/app/after',
                  '/\\evil.example', 'javascript:alert(1)', '/%2F%2Fevil.example') {
        %l = login_link($evil);
        ok(is_login_redirect($l{start}), "post_login_redirect_uri=$evil: the sign-in starts");
        is($l{back}, '/', "... and ends on /");
    }
    %l = login_link(undef, '');
    is($l{back}, '/', 'no post_login_redirect_uri: ends on /');

    my $post = new_ua()->post(url($vh, '/.auth/login/aad'));
    is($post->code, 405, 'POST /.auth/login/aad: 405');
}

done_testing();
