# /.auth/logout: EntraLogoutRedirect On goes through Entra's
# end_session_endpoint (post_logout_redirect_uri absolute and same-origin,
# id_token_hint, logout_hint); without it a local redirect.  Cross-site
# forgery: a logout another site starts gets a confirmation page (GET) or
# 403 (POST), and the session survives.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use URI;
use URI::Escape qw(uri_escape);
use EntraTest;
use EntraSessions;

mock_reset();
my $mark = log_mark();
my $login_hint = 'O.CiQ0ZDNjMmIxYS05ZThmLTRhN2ItOGM2ZC01ZTRmM2EyYjFjMGQSJDAwMDAwMDAw';

sub signed_in {
    my ($vh, $path) = @_;
    my $ua = new_ua();
    my $r = sign_in($ua, $vh, $path // '/app/');
    return ($ua, $r);
}
sub still_signed_in {
    my ($ua, $vh) = @_;
    my $r = $ua->get(url($vh, '/app/check'), Accept => 'text/html');
    return $r->code == 200;
}

# ------------------------------------------------ EntraLogoutRedirect On ---
{
    my $vh = 'sess_logout';
    mock_config({ user => { login_hint => $login_hint } });
    my ($ua, $r) = signed_in($vh);
    is($r->code, 200, 'sess_logout: signed in');
    my $id_token = mock_stats()->{last}{token_response}{id_token};
    ok($id_token, 'the mock issued an ID token');

    my $out = $ua->get(url($vh, '/.auth/logout?post_logout_redirect_uri=' . uri_escape('/bye?x=1')),
                       'Sec-Fetch-Site' => 'same-origin');
    is($out->code, 302, 'logout: 302');
    my $loc = URI->new(location($out) // '');
    my $info = mock_info();
    is($loc->scheme . '://' . $loc->host_port . $loc->path,
       mock_url('/' . TENANT . '/oauth2/v2.0/logout'), '... to Entra\'s end_session_endpoint (from discovery)');
    my $q = query_params($loc->as_string);
    is($q->{post_logout_redirect_uri}, url($vh, '/bye?x=1'), '... post_logout_redirect_uri: absolute, this site');
    ok(($q->{id_token_hint} // '') eq ($id_token // '-'), '... id_token_hint: the ID token of the sign-in');
    is($q->{logout_hint}, $login_hint, '... logout_hint: the login_hint claim');
    ok(cleared_cookie($out, 'entra_session'), '... the local session is cleared first');
    ok(!still_signed_in($ua, $vh), '... and is gone');

    # Entra sends the browser back only to a URI of the app registration
    # (t/TEST registers each site's callback and root); /bye?x=1 is not one:
    # Entra ends its session and shows its own page.
    my $at_entra = $ua->get(location($out));
    is($at_entra->code, 200, 'Entra\'s logout, post_logout_redirect_uri not registered: Entra\'s page');
    ok(!defined location($at_entra) && ($at_entra->decoded_content // '') =~ /You signed out/,
       '... no redirect to it');
    ok((mock_stats()->{last}{logout}{id_token_hint} // '') eq ($id_token // '-'), 'Entra got the id_token_hint');
    # registered (as an admin would), Entra goes back to it
    mock_config({ extra_redirect_uris => [url($vh, '/bye?x=1')] });
    $at_entra = $ua->get(location($out));
    is($at_entra->code, 302, 'post_logout_redirect_uri registered: Entra\'s logout redirects back');
    is(location($at_entra), url($vh, '/bye?x=1'), '... to the post_logout_redirect_uri');
    mock_config({ extra_redirect_uris => undef });

    for my $c (['https://evil.example/phish', 'a foreign URL'],
               ['//evil.example/x',           'a scheme-relative URL'],
               [url('sess_app', '/'),           'the same host on another port']) {
        my ($b) = signed_in($vh);
        my $o = $b->get(url($vh, '/.auth/logout?post_logout_redirect_uri=' . uri_escape($c->[0])), SAME_SITE);
        my $p = query_params(location($o) // '');
        is($p->{post_logout_redirect_uri}, url($vh, '/'), "$c->[1] as post_logout_redirect_uri: replaced by /");
        unlike(location($o) // '', qr/evil\.example/, '... the foreign host is not passed on');
    }

    my ($b) = signed_in($vh);
    my $o = $b->get(url($vh, '/.auth/logout'), SAME_SITE);
    is(query_params(location($o) // '')->{post_logout_redirect_uri}, url($vh, '/'), 'no target: / (absolute)');
    my $back = $b->get(location($o) // '/');
    is($back->code . ' ' . (location($back) // ''), '302 ' . url($vh, '/'),
       '... the registered site root: Entra redirects back to it');

    my $anon = new_ua();
    $o = $anon->get(url($vh, '/.auth/logout'), SAME_SITE);
    is($o->code, 302, 'logout without a session: 302');
    like(location($o) // '', qr{/oauth2/v2\.0/logout\?}, '... still through Entra\'s logout');
    ok(!exists query_params(location($o) // '')->{id_token_hint}, '... without an id_token_hint');

    # no login_hint claim: no logout_hint
    mock_reset();
    my ($c) = signed_in($vh);
    $o = $c->get(url($vh, '/.auth/logout'), SAME_SITE);
    ok(!exists query_params(location($o) // '')->{logout_hint}, 'no login_hint claim: no logout_hint');
    ok(query_params(location($o) // '')->{id_token_hint}, '... but an id_token_hint');
}

# ----------------------------------------- EntraLogoutRedirect Off (local) ---
{
    my $vh = 'sess_app';
    my ($ua) = signed_in($vh);
    my $before = mock_stats()->{requests}{logout};
    my $o = $ua->get(url($vh, '/.auth/logout?post_logout_redirect_uri=/bye'), SAME_SITE);
    is($o->code, 302, 'sess_app logout: 302');
    is(abs_location($o), url($vh, '/bye'), '... straight to the local page, not to Entra');
    ok(cleared_cookie($o, 'entra_session'), '... session cleared');
    is(mock_stats()->{requests}{logout}, $before, '... Entra\'s logout is not involved');
}

# ---------------------------------------------------------------- CSRF ---
my $vh = 'sess_app';
my $origin = base_url($vh);
(my $other_port = hostport($vh)) =~ s/:(\d+)$/':' . ($1 + 1)/e;

my @cross = (
    ['Sec-Fetch-Site: cross-site'             => ['Sec-Fetch-Site' => 'cross-site']],
    ['Sec-Fetch-Site: same-site'              => ['Sec-Fetch-Site' => 'same-site']],
    ['Origin of another site'                 => [Origin => 'https://evil.example']],
    ['Origin: null (sandboxed frame)'         => [Origin => 'null']],
    ['Referer of another site'                => [Referer => 'https://evil.example/page.html']],
    ['Referer of a look-alike host'           => [Referer => "$origin.evil.example/x"]],
    ['Referer of the same host, another port' => [Referer => "http://$other_port/x"]],
    ['cross-site, though the Referer is ours' => ['Sec-Fetch-Site' => 'cross-site', Referer => "$origin/app/"]],
);
for my $c (@cross) {
    my ($what, $h) = @$c;
    my ($ua) = signed_in($vh);
    my $r = $ua->get(url($vh, '/.auth/logout?post_logout_redirect_uri=' . uri_escape('/bye"><script>x</script>')), @$h);
    is($r->code, 200, "GET logout, $what: 200 (a confirmation page)") or diag($r->status_line);
    my $body = $r->decoded_content // '';
    like($body, qr{<form[^>]*method="post"[^>]*action="/\.auth/logout"}i, '... with a POST form to /.auth/logout');
    like($body, qr{<button[^>]*type="submit"|<input[^>]*type="submit"}i, '... and a button');
    unlike($body, qr{<script>x}i, '... the target is escaped');
    like($body, qr{name="post_logout_redirect_uri" value="/bye&quot;&gt;&lt;script&gt;}, '... and carried in the form');
    ok(!find_set_cookie($r, 'entra_session'), '... the session cookie is not touched');
    like($r->header('Cache-Control') // '', qr/no-store/, '... not cached');
    ok(($r->header('X-Frame-Options') // '') =~ /deny/i
       || ($r->header('Content-Security-Policy') // '') =~ /frame-ancestors 'none'/,
       '... and cannot be framed (no clickjacking the button)');
    ok(still_signed_in($ua, $vh), '... the user is still signed in');

    my $p = $ua->post(url($vh, '/.auth/logout'), @$h,
                      Content => 'post_logout_redirect_uri=%2Fbye');
    is($p->code, 403, "POST logout, $what: 403") or diag($p->status_line);
    ok(!cleared_cookie($p, 'entra_session'), '... the session cookie is not cleared');
    ok(still_signed_in($ua, $vh), '... the user is still signed in');
}

# the confirmation page's form, submitted from our own origin, signs out
{
    my ($ua) = signed_in($vh);
    my $page = $ua->get(url($vh, '/.auth/logout?post_logout_redirect_uri=/bye'), 'Sec-Fetch-Site' => 'cross-site');
    my ($target) = ($page->decoded_content // '') =~ /name="post_logout_redirect_uri" value="([^"]*)"/;
    is($target, '/bye', 'the confirmation page carries the target');
    my $p = $ua->post(url($vh, '/.auth/logout'),
                      Origin => $origin, Referer => url($vh, '/.auth/logout'), 'Sec-Fetch-Site' => 'same-origin',
                      Content => 'post_logout_redirect_uri=' . uri_escape($target // ''));
    is($p->code, 302, 'POST from the page (same origin): 302');
    is(abs_location($p), url($vh, '/bye'), '... to the target');
    ok(cleared_cookie($p, 'entra_session'), '... session cleared');
    ok(!still_signed_in($ua, $vh), '... signed out');
}

# same-origin and typed-in logouts go straight through
for my $c (['Sec-Fetch-Site: same-origin' => ['Sec-Fetch-Site' => 'same-origin']],
           ['Sec-Fetch-Site: none (typed, bookmark)' => ['Sec-Fetch-Site' => 'none']],
           ['Origin and Referer of this site' => [Origin => $origin, Referer => "$origin/app/page"]]) {
    my ($what, $h) = @$c;
    my ($ua) = signed_in($vh);
    my $r = $ua->get(url($vh, '/.auth/logout'), @$h);
    is($r->code, 302, "GET logout, $what: 302");
    ok(cleared_cookie($r, 'entra_session'), '... session cleared');
    ok(!still_signed_in($ua, $vh), '... signed out');
}
# none of them (an old client, or a link from a page that sends no
# Referer): it may be another site's, so the user confirms (t/48_tokens.t)
{
    my ($ua) = signed_in($vh);
    my $r = $ua->get(url($vh, '/.auth/logout'));
    is($r->code, 200, 'GET logout, no such headers: the confirmation page');
    ok(!find_set_cookie($r, 'entra_session'), '... the session cookie is not touched');
    ok(still_signed_in($ua, $vh), '... still signed in');
}
{
    my ($ua) = signed_in($vh);
    my $r = $ua->post(url($vh, '/.auth/logout'), Origin => $origin, 'Sec-Fetch-Site' => 'same-origin');
    is($r->code, 302, 'POST logout from this site: 302');
    ok(!still_signed_in($ua, $vh), '... signed out');
}
{
    # EntraLogoutRedirect On is protected the same way
    my ($ua) = signed_in('sess_logout');
    my $r = $ua->get(url('sess_logout', '/.auth/logout'), 'Sec-Fetch-Site' => 'cross-site');
    is($r->code, 200, 'sess_logout, cross-site GET: confirmation page');
    unlike(location($r) // '', qr/oauth2/, '... not sent to Entra');
    ok(still_signed_in($ua, 'sess_logout'), '... still signed in');
}
{
    my $r = raw_request('PUT', $vh, '/.auth/logout', []);
    is($r->code, 405, 'PUT /.auth/logout: 405');
}

# A user in 190 groups (listed in the token, under the overage limit) with
# EntraLogoutRedirect On and the cookie store: the ID token kept for
# id_token_hint would make the session too big for the browser to send back,
# so it is dropped (the sign-in completes) and logout names the account by
# logout_hint alone.
{
    my $vh = 'sess_logout';
    # group object ids are random: they do not deflate away
    srand(44);
    my @groups = map { random_guid($_) } 1 .. 190;
    mock_reset();
    mock_config({ user => { login_hint => $login_hint, groups => \@groups } });
    my $m = log_mark();
    my ($ua, $r) = signed_in($vh);
    is($r->code, 200, 'sess_logout, a user in 190 groups: signed in with the cookie store');
    ok(scalar(grep { /ENTRA00217:.*without id_token_hint \(with logout_hint\)/ } log_since($m)),
       '... the ID token was left out of the session (ENTRA00217)');
    my $out = $ua->get(url($vh, '/.auth/logout?post_logout_redirect_uri=' . uri_escape('/bye')),
                       'Sec-Fetch-Site' => 'same-origin');
    is($out->code, 302, '... logout: 302') or diag($out->as_string);
    my $q = query_params(location($out) // '');
    ok(!exists $q->{id_token_hint}, '... to Entra without id_token_hint');
    is($q->{logout_hint}, $login_hint, '... with logout_hint');
    ok(!still_signed_in($ua, $vh), '... and the local session is gone');
    mock_reset();
}

my @crit = grep { /\[auth_entra:(?:emerg|alert|crit)\]/ } log_since($mark);
is(scalar @crit, 0, 'nothing at crit or worse') or diag(join "\n", @crit);

done_testing();
