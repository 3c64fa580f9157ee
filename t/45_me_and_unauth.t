# /.auth/me (Azure App Service's shape) for single-page apps, 401 for
# scripts and API callers instead of a redirect, and EntraUnauthAction
# auth | 401 | 403 | pass per location.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP ();
use EntraTest;
use EntraSessions;

mock_reset();
my $mark = log_mark();
my $vh = 'sess_app';
my $json = JSON::PP->new;

# ------------------------------------------------------------- /.auth/me ---
{
    my $anon = new_ua();
    my $r = $anon->get(url($vh, '/.auth/me'));
    is($r->code, 401, '/.auth/me not signed in: 401');
    ok(!defined location($r), '... no redirect');
    like($r->header('Cache-Control') // '', qr/no-store/, '... not cached');
    ok($r->header('WWW-Authenticate'), '... with WWW-Authenticate');
    is(raw_get($vh, '/.auth/me', 'entra_session=garbage')->code, 401, '/.auth/me with a bad cookie: 401');
    is(raw_get($vh, '/.auth/me', 'entra_session=chunks:2; entra_session_0=AAAA')->code, 401,
       '/.auth/me with a broken chunk set: 401');
}

sub me_of {
    my ($ua, $vhost) = @_;
    my $r = $ua->get(url($vhost, '/.auth/me'), Accept => 'application/json');
    my $d = eval { $json->decode($r->content) };
    return ($r, $d);
}
sub claims_of {
    my $id = shift;
    my %c;
    push @{ $c{$_->{typ}} }, $_->{val} for @{ $id->{user_claims} || [] };
    return \%c;
}

{
    my $ua = new_ua();
    is(sign_in($ua, $vh, '/app/')->code, 200, 'sess_app: signed in');
    my ($r, $d) = me_of($ua, $vh);
    is($r->code, 200, '/.auth/me signed in: 200');
    like($r->header('Content-Type') // '', qr{^application/json}, '... application/json');
    like($r->header('Cache-Control') // '', qr/no-store/, '... not cached');
    ok(ref $d eq 'ARRAY' && @$d == 1, '... a JSON array of one identity') or diag($r->content);
    my $id = ref $d eq 'ARRAY' ? $d->[0] : {};
    is($id->{provider_name}, 'aad', '... provider_name "aad"');
    is($id->{user_id}, USER->{preferred_username}, '... user_id = REMOTE_USER (preferred_username)');
    ok(ref $id->{user_claims} eq 'ARRAY', '... user_claims: an array');
    ok(!grep({ ref ne 'HASH' || join(',', sort keys %$_) ne 'typ,val' } @{ $id->{user_claims} || [] }),
       '... of {typ, val} objects');
    ok(!grep({ ref $_->{val} } @{ $id->{user_claims} || [] }), '... every val a string');
    my $c = claims_of($id);
    is_deeply($c->{roles}, USER->{roles}, '... roles: one entry per role');
    is_deeply($c->{groups}, USER->{groups}, '... groups: one entry per group');
    is_deeply($c->{name}, [USER->{name}], '... name');
    is_deeply($c->{oid}, [USER->{oid}], '... oid');
    is_deeply($c->{preferred_username}, [USER->{preferred_username}], '... preferred_username');
    is_deeply($c->{tid}, [TENANT], '... tid');
    ok(!grep({ /^:/ } keys %$c), '... no internal session fields');
    ok(!exists $id->{access_token}, '... no access_token without EntraPassAccessToken');
    ok(!grep({ /^(?:access_token|refresh_token|id_token)$/ } keys %$c), '... and no tokens among the claims');
}

# with EntraPassAccessToken On: access_token and expires_on
{
    my $ua = new_ua();
    my $r = sign_in($ua, 'sess_me', '/app/');
    is($r->code, 200, 'sess_me: signed in');
    my $at = backend_header($r, 'X-Entra-Access-Token');
    my $exp = backend_header($r, 'X-Entra-Access-Token-Expires');
    my ($m, $d) = me_of($ua, 'sess_me');
    is($m->code, 200, 'sess_me /.auth/me: 200');
    my $id = ref $d eq 'ARRAY' ? $d->[0] : {};
    ok($at && defined $id->{access_token} && $id->{access_token} eq $at,
       '... access_token = the token the backend gets');
    ok(defined $id->{expires_on} && "$id->{expires_on}" eq ($exp // ''), '... expires_on = X-Entra-Access-Token-Expires');
    my $c = claims_of($id);
    ok(!grep({ /^:/ } keys %$c), '... no internal fields among the claims');
    is_deeply($c->{roles}, USER->{roles}, '... roles split');
    # an XHR from the app itself
    my $x = $ua->get(url('sess_me', '/.auth/me'), 'X-Requested-With' => 'XMLHttpRequest', 'Sec-Fetch-Mode' => 'cors');
    is($x->code, 200, '... also to an XHR');
}

# ------------------------------------------------ API and script callers ---
my $anon = new_ua();
my @api = (
    ['X-Requested-With: XMLHttpRequest' => ['X-Requested-With' => 'XMLHttpRequest', Accept => 'text/html']],
    ['Accept: application/json'         => [Accept => 'application/json']],
    ['Accept: application/json, text/plain' => [Accept => 'application/json, text/plain']],
    ['Sec-Fetch-Mode: cors'             => ['Sec-Fetch-Mode' => 'cors', Accept => 'text/html,*/*']],
    ['Sec-Fetch-Mode: no-cors (an <img>)' => ['Sec-Fetch-Mode' => 'no-cors', Accept => 'image/avif,image/webp,*/*']],
    ['fetch() from a page'              => ['Sec-Fetch-Mode' => 'cors', 'Sec-Fetch-Dest' => 'empty', Accept => '*/*']],
);
for my $c (@api) {
    my ($what, $h) = @$c;
    my $r = $anon->get(url($vh, '/app/data'), @$h);
    ok(is_api_challenge($r), "$what: 401 with WWW-Authenticate, no redirect") or diag($r->status_line);
    like($r->header('WWW-Authenticate') // '', qr/^Bearer realm="[^"]+"/, '... a Bearer challenge with a realm');
}
my @nav = (
    ['Accept: text/html (a browser)' => [Accept => 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8']],
    ['a navigation (Sec-Fetch-Mode: navigate)' => ['Sec-Fetch-Mode' => 'navigate', 'Sec-Fetch-Dest' => 'document',
                                                    Accept => 'text/html,*/*;q=0.8']],
    ['Accept: application/xhtml+xml' => [Accept => 'application/xhtml+xml']],
);
for my $c (@nav) {
    my ($what, $h) = @$c;
    my $r = $anon->get(url($vh, '/app/page'), @$h);
    ok(is_login_redirect($r), "$what: 302 to sign in") or diag($r->status_line);
}
for my $m (qw(POST PUT DELETE PATCH)) {
    my $r = raw_request($m, $vh, '/app/form', [Accept => 'text/html', 'Content-Type' => 'application/x-www-form-urlencoded'], 'a=1');
    ok(is_api_challenge($r), "$m without a session, even from a browser: 401, no sign-in started")
        or diag($r->status_line);
}
# signed in, the same callers get through
{
    my $ua = new_ua();
    is(sign_in($ua, $vh, '/app/')->code, 200, 'signed in');
    for my $c (@api) {
        my ($what, $h) = @$c;
        is($ua->get(url($vh, '/app/data'), @$h)->code, 200, "signed in, $what: 200");
    }
    my $p = $ua->post(url($vh, '/app/form'), Content => 'a=1');
    is($p->code, 200, 'signed in, POST: 200');
    is((echo($p) || {})->{body}, 'a=1', '... body passed on');
}

# ------------------------------------------------ EntraUnauthAction ---
{
    my $nav = [Accept => 'text/html', 'Sec-Fetch-Mode' => 'navigate'];
    my $xhr = ['X-Requested-With' => 'XMLHttpRequest'];

    my $r = $anon->get(url($vh, '/u401/x'), @$nav);
    ok(is_api_challenge($r), 'EntraUnauthAction 401, browser navigation: 401 with WWW-Authenticate')
        or diag($r->status_line);
    $r = $anon->get(url($vh, '/u403/x'), @$nav);
    is($r->code, 403, 'EntraUnauthAction 403, browser navigation: 403');
    ok(!defined location($r), '... no redirect');
    ok(!find_set_cookie($r, qr/^entra_session_state_/), '... no sign-in started');
    $r = $anon->get(url($vh, '/u403/x'), @$xhr);
    is($r->code, 403, 'EntraUnauthAction 403, XHR: 403');

    $r = $anon->get(url($vh, '/uauth/x'), @$nav);
    ok(is_login_redirect($r), 'EntraUnauthAction auth, browser navigation: 302 to sign in');
    $r = $anon->get(url($vh, '/uauth/x'), @$xhr);
    ok(is_api_challenge($r), 'EntraUnauthAction auth, XHR: 401');

    # pass: the backend decides
    $r = $anon->get(url($vh, '/upass/x'), @$nav, 'X-Entra-Claim-oid' => 'forged', 'X-Entra-Claim-Roles' => 'Admin');
    is($r->code, 200, 'EntraUnauthAction pass, not signed in: the backend is reached');
    my $h = echo_headers_norm(echo($r) || {});
    ok(!grep({ /^x-entra-/ } keys %$h), '... with no X-Entra-* header at all (forged ones removed)')
        or diag(join ', ', grep { /^x-entra-/ } keys %$h);
    ok(!length(($h->{'x-test-remote-user'} || [''])->[0]), '... and no REMOTE_USER');
    ok(!find_set_cookie($r, qr/^entra_/), '... no cookie set');
    $r = $anon->post(url($vh, '/upass/form'), Content => 'a=1');
    is($r->code, 200, 'EntraUnauthAction pass, POST not signed in: reaches the backend');

    my $ua = new_ua();
    is(sign_in($ua, $vh, '/app/')->code, 200, 'signed in');
    $r = $ua->get(url($vh, '/upass/x'));
    is($r->code, 200, 'EntraUnauthAction pass, signed in: 200');
    is(backend_header($r, 'X-Test-Remote-User'), USER->{preferred_username}, '... with REMOTE_USER');
    is(backend_header($r, 'X-Entra-Claim-oid'), USER->{oid}, '... and the claims');
    for my $loc (qw(u401 u403 uauth)) {
        $r = $ua->get(url($vh, "/$loc/x"), @$nav);
        is($r->code, 200, "signed in, /$loc: 200");
        is(backend_header($r, 'X-Entra-Claim-oid'), USER->{oid}, '... with the claims');
    }
}

my @crit = grep { /\[auth_entra:(?:emerg|alert|crit)\]/ } log_since($mark);
is(scalar @crit, 0, 'nothing at crit or worse') or diag(join "\n", @crit);

done_testing();
