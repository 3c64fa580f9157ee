# The module as production runs it: a private Apache serving https (mod_ssl,
# a certificate of the suite's own test CA, made with openssl), the default
# EntraCookieSecure On, an HSTS header set the usual way, a reverse proxy to
# the echo backend, and a browser that verifies the certificate.  A whole
# sign-in, the exact names and attributes of every cookie (__Host- session,
# __Secure- state), a logout; then EntraResponseMode form_post over TLS
# (SameSite=None; Secure on the state cookie for Entra's cross-site POST).
# The mock Entra stays on plain http, as EntraAuthority says.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Request::Common ();
use EntraTest;
use EntraSessions;
use EntraStores;
use EntraShapes;
use EntraSeeds qw(parse_form_post);

my $HSTS = 'max-age=63072000; includeSubDomains';
my $CB   = '/.auth/login/aad/callback';

mock_reset();
my $S = eval {
    start_apache(name => 'tls', tls => 1, secure => 1, servers => 2,
                 extra => qq{Header always set Strict-Transport-Security "$HSTS"})
};
ok($S, 'an https server (mod_ssl, EntraCookieSecure left at its default) starts') or diag($@);
plan skip_all => 'no server' unless $S;
my $base = $S->base;
like($base, qr{^https://localhost:\d+$}, "it is $base");

# The cookie's attributes, exactly: { lc name => value or 1 }
sub attrs_of { my (undef, undef, $a) = cookie_attrs(shift); return $a }

# ------------------------------------------------- the certificate counts
{
    my $stranger = new_ua();
    $stranger->ssl_opts(verify_hostname => 1, SSL_ca_file => '/etc/ssl/certs/ca-certificates.crt');
    my $r = $stranger->get("$base/app/");
    is($r->code, 500, 'a client that does not trust the test CA cannot connect');
    like($r->header('Client-Warning') // '', qr/Internal response/, '... (its own TLS check refused)');
    like($r->content, qr/certificate verify failed/i, '... certificate verify failed');
}

# ---------------------------------------------------------- the sign-in
my $ua = tls_ua();
my ($final, $s) = sign_in_url($ua, "$base/app/tls?x=1", Accept => 'text/html');

my $start = $s->{start};
ok(is_login_redirect($start), 'a protected page over https: 302 to Entra') or diag($start->as_string);
is($start->header('Strict-Transport-Security'), $HSTS, '... with the HSTS header (Header always)');
my $ap = query_params(abs_location($start));
is($ap->{redirect_uri}, "$base$CB", '... redirect_uri is the https callback');
ok(!defined $ap->{response_mode} || $ap->{response_mode} eq 'query', '... response_mode query (the default)');
my $state = $ap->{state} // '';

my @start_cookies = set_cookie_headers($start);
my $st = find_set_cookie($start, "__Secure-entra_session_state_$state");
ok($st, "the state cookie is __Secure-entra_session_state_<state>") or diag(join "\n", @start_cookies);
is_deeply([sort keys %{ attrs_of($st) }], [qw(httponly max-age path samesite secure)],
          '... attributes: Path, Max-Age, Secure, HttpOnly, SameSite and no Domain') or diag($st);
is(attrs_of($st)->{path}, $CB, '... Path is the callback');
is(attrs_of($st)->{samesite}, 'Lax', '... SameSite=Lax (query mode: a top-level GET brings it)');
cmp_ok(attrs_of($st)->{'max-age'}, '>', 0, '... Max-Age > 0');
my $pend = find_set_cookie($start, '__Host-entra_session_pending');
ok($pend, 'the pending sign-ins index is __Host-entra_session_pending') or diag(join "\n", @start_cookies);
is(attrs_of($pend)->{path}, '/', '... Path=/ (a __Host- cookie must have it)');
ok(attrs_of($pend)->{secure} && !exists attrs_of($pend)->{domain}, '... Secure, no Domain');
is(scalar(grep { !/^(?:__Host-|__Secure-)/ } @start_cookies), 0, 'no cookie without a prefix')
    or diag(join "\n", @start_cookies);

my $authz = $s->{authorize};
is($authz->code, 302, 'Entra sends the browser back');
like(location($authz) // '', qr{^\Q$base$CB\E\?}, '... to the https callback');

my $cb = $s->{callback};
is($cb->code, 302, 'the callback over https: 302') or diag($cb->as_string);
is(abs_location($cb), "$base/app/tls?x=1", '... back to the page the sign-in started at');
is($cb->header('Strict-Transport-Security'), $HSTS, '... with the HSTS header');
my $sess = find_set_cookie($cb, '__Host-entra_session');
ok($sess, 'the session cookie is __Host-entra_session') or diag(join "\n", set_cookie_headers($cb));
my ($sname, $sval, $sa) = cookie_attrs($sess);
is_deeply([sort keys %$sa], [qw(httponly path samesite secure)],
          '... attributes: Path, Secure, HttpOnly, SameSite and nothing else (no Domain, no Max-Age)')
    or diag($sess);
is($sa->{path}, '/', '... Path=/');
is($sa->{samesite}, 'Lax', '... SameSite=Lax');
my $stc = find_set_cookie($cb, "__Secure-entra_session_state_$state") // '';
is(attrs_of($stc)->{'max-age'}, '0', '... the state cookie is deleted (Max-Age=0)') or diag($stc);
ok(attrs_of($stc)->{secure} && (attrs_of($stc)->{path} // '') eq $CB,
   '... the deletion is Secure with the same Path (a browser ignores it otherwise)');
is(scalar(grep { !/^(?:__Host-|__Secure-)/ } set_cookie_headers($cb)), 0, 'no cookie without a prefix');

is($final->code, 200, 'signed in: the page') or diag($final->as_string);
is($final->header('Strict-Transport-Security'), $HSTS, '... with the HSTS header');
my $e = echo($final);
is(echo_header($e, 'X-Test-Remote-User'), USER->{preferred_username}, '... the backend sees the user');
unlike(echo_header($e, 'Cookie') // '', qr/entra_session/, '... and none of the module\'s cookies');

# The jar: the browser keeps the session only for https
my %jar;
$ua->cookie_jar->scan(sub { $jar{$_[1]} = $_[7] ? 'secure' : 'plain' });
is($jar{'__Host-entra_session'}, 'secure', 'the browser holds __Host-entra_session as a Secure cookie');
ok(!exists $jar{"__Secure-entra_session_state_$state"}, '... and no longer the state cookie');

for my $i (1 .. 3) {
    is($ua->get("$base/app/again/$i")->code, 200, "a signed-in request ($i)");
}

# The same value without the prefix (what a plain-http man in the middle
# could plant) is no session
{
    my $r = tls_ua(no_cookies => 1)->get("$base/app/planted", Accept => 'text/html',
                                         Cookie => "entra_session=$sval");
    ok(is_login_redirect($r), 'the session value under the unprefixed name is no session');
}
# (the same value under its own name is the session)
{
    my $r = tls_ua(no_cookies => 1)->get("$base/app/replayed", Cookie => "__Host-entra_session=$sval");
    is($r->code, 200, 'the value under __Host-entra_session is the session');
}

# ---------------------------------------------------------------- logout
my $out = $ua->get("$base/.auth/logout", SAME_SITE);
is($out->code, 302, 'logout over https: 302');
is(abs_location($out), "$base/", '... to / on the same https origin');
is($out->header('Strict-Transport-Security'), $HSTS, '... with the HSTS header');
my $clear = find_set_cookie($out, '__Host-entra_session') // '';
my $ca = attrs_of($clear);
is($ca->{'max-age'}, '0', '... __Host-entra_session deleted (Max-Age=0)') or diag($clear);
ok($ca->{secure} && ($ca->{path} // '') eq '/' && !exists $ca->{domain},
   '... with Secure, Path=/ and no Domain (a __Host- deletion without them is ignored)');
ok(!defined cookie_value($ua, '__Host-entra_session'), 'the browser dropped the session');
ok(is_login_redirect($ua->get("$base/app/tls", Accept => 'text/html')), 'the page asks for a sign-in again');
$S->stop;

# ------------------------------------------------------ form_post on TLS
my $F = eval {
    start_apache(name => 'tls_form_post', tls => 1, secure => 1,
                 extra => "EntraResponseMode form_post\n"
                        . qq{Header always set Strict-Transport-Security "$HSTS"})
};
ok($F, 'an https server with EntraResponseMode form_post starts') or diag($@);
SKIP: {
    skip 'no form_post server', 1 unless $F;
    my $fb = $F->base;
    my $b = tls_ua();
    my $r = $b->get("$fb/app/fp?y=2", Accept => 'text/html');
    ok(is_login_redirect($r), 'form_post: a sign-in starts');
    my $q = query_params(abs_location($r));
    is($q->{response_mode}, 'form_post', '... response_mode=form_post');
    is($q->{redirect_uri}, "$fb$CB", '... to the https callback');
    my $sc = find_set_cookie($r, "__Secure-entra_session_state_$q->{state}");
    my $a = attrs_of($sc);
    is($a->{samesite}, 'None', 'the state cookie is SameSite=None (it rides on Entra\'s cross-site POST)')
        or diag($sc);
    ok($a->{secure}, '... and Secure (browsers drop SameSite=None without it)');
    is($a->{path}, $CB, '... on the callback path');

    my $page = $b->get(abs_location($r));
    is($page->code, 200, 'Entra answers with its auto-submitting form');
    my ($action, $fields) = parse_form_post($page->decoded_content);
    is($action, "$fb$CB", '... that posts to the https callback');
    my $post = HTTP::Request::Common::POST($action, $fields);
    $post->header(Origin => mock_url(''), Referer => mock_url('/'), 'Sec-Fetch-Site' => 'cross-site',
                  'Sec-Fetch-Mode' => 'navigate', 'Sec-Fetch-Dest' => 'document');
    my $cbp = $b->request($post);
    is($cbp->code, 302, 'the cross-site POST to the callback over https: 302') or diag($cbp->as_string);
    is(abs_location($cbp), "$fb/app/fp?y=2", '... back to the page');
    is($cbp->header('Strict-Transport-Security'), $HSTS, '... with the HSTS header');
    my $fs = attrs_of(find_set_cookie($cbp, '__Host-entra_session'));
    is($fs->{samesite}, 'Lax', 'the session cookie itself is SameSite=Lax');
    ok($fs->{secure} && $fs->{path} eq '/' && !exists $fs->{domain}, '... Secure, Path=/, no Domain');
    my $pg = $b->get("$fb/app/fp?y=2");
    is($pg->code, 200, 'signed in with form_post over https');
    is(backend_header($pg, 'X-Test-Remote-User'), USER->{preferred_username}, '... as the user');
    $F->stop;
}

mock_reset();
done_testing();
