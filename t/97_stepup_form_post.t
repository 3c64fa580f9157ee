# Issue 13 under EntraResponseMode form_post (t/conf/stepup.conf.in):
# Entra's callback is a cross-site POST, which a browser sends with the
# SameSite=None state cookie but without the SameSite=Lax session cookie.
# A step-up's POST therefore goes on in a same-site GET: 303 to the callback
# itself (?entra_handover=<state>) with its parameters in a sealed hand-over
# cookie of that attempt (Lax, a minute, the callback's path); the GET brings the session cookie, and the step-up
# upgrades the session as under query.  LWP knows no SameSite: the POST is
# built here as a browser sends it (cross_site_post), and the cookies it
# gets back go into the browser's jar as a browser keeps them.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Request::Common qw(POST);
use URI;
use EntraTest;
use EntraSeeds qw(https_ua form_post_sign_in parse_form_post mock_base);

my $vh = 'stepup_formpost';
my $cb_path = '/.auth/login/aad/callback';
my $SESSION = '__Host-entra_session';
# one hand-over cookie an attempt: <prefix>handover.<state>
my $HANDOVER_PREFIX = '__Secure-entra_session_state_handover.';
my $HANDOVER = qr/^\Q$HANDOVER_PREFIX\E/;

# The SameSite=None cookies of `ua`'s jar for `path`: what a browser sends
# on a cross-site POST.
sub cross_site_cookies {
    my ($ua, $path) = @_;
    my @sent;
    $ua->cookie_jar->scan(sub {
        my (undef, $name, $value, $cpath, undef, undef, undef, undef, $expires, undef, $rest) = @_;
        return unless index($path, $cpath) == 0 && lc(($rest || {})->{SameSite} // '') eq 'none';
        push @sent, "$name=$value" unless defined $expires && $expires <= time;
    });
    return join '; ', @sent;
}

# `ua`'s browser after `r`: the cookies it set, as a browser keeps them.
sub keep_cookies {
    my ($ua, $r) = @_;
    $ua->cookie_jar->extract_cookies($r);
    $ua->run_handlers(response_done => $r);
    for my $h (set_cookie_headers($r)) {
        my ($n, $v) = $h =~ /^\s*([^=;\s]+)\s*=\s*"?([^";]*)/ or next;
        record_secret("cookie:$n", $v) if length $v;
    }
}

# Entra's auto-submitted form, POSTed as a browser does from Entra's page.
sub cross_site_post {
    my ($ua, $action, $fields) = @_;
    my %f = @$fields;
    record_secret('code', $f{code}) if $f{code};
    my $req = POST($action, $fields);
    my $origin = mock_base();
    $req->header(Origin => $origin, Referer => "$origin/", 'Sec-Fetch-Site' => 'cross-site',
                 'Sec-Fetch-Mode' => 'navigate', 'Sec-Fetch-Dest' => 'document');
    my $cookies = cross_site_cookies($ua, URI->new($action)->path);
    $req->header(Cookie => $cookies) if length $cookies;
    my $r = new_ua(no_cookies => 1)->request($req);
    keep_cookies($ua, $r);
    return $r;
}

# From a redirect to Entra to its form: (action, fields).
sub entra_form {
    my ($ua, $login) = @_;
    my $page = $ua->get(abs_location($login) // '');
    is($page->code, 200, 'Entra answers with its auto-submitting form') or return;
    my ($action, $fields) = parse_form_post($page->decoded_content);
    ok($action, '... a form to the callback') or return;
    return ($action, $fields);
}

sub backend_claim {
    my ($r, $name) = @_;
    my $e = echo($r) or return undef;
    return scalar echo_header($e, "X-Entra-Claim-$name");
}

sub signed_in {
    my $host = shift // $vh;
    mock_reset();
    my $ua = https_ua();
    my ($final, $s) = form_post_sign_in($ua, $host, '/app/start');
    is($final->code, 200, "signed in at $host by form_post") or diag($final->status_line);
    return ($ua, $s);
}

# The hand-over cookie in the browser: (name, value, the attempt's state).
sub handover_in {
    my $ua = shift;
    my ($name) = grep { /$HANDOVER/ } cookie_names($ua);
    return ('', '', '') unless $name;
    return ($name, cookie_value($ua, $name), substr($name, length $HANDOVER_PREFIX));
}

# The GET a hand-over's 303 sends the browser to.
sub handover_url { my ($host, $id) = @_; return url($host, "$cb_path?entra_handover=$id") }

# A step-up's POST leg: the 303 and its hand-over cookie, checked.
sub handed_over {
    my ($ua, $host, $path, $what) = @_;
    my $login = $ua->get(url($host, $path));
    ok(is_login_redirect($login), "$what: a step-up to Entra") or return;
    is(query_params(abs_location($login) // '')->{response_mode}, 'form_post', '... by form_post');
    my ($action, $fields) = entra_form($ua, $login) or return;
    my $tokens = mock_stats()->{requests}{token} // 0;
    my $post = cross_site_post($ua, $action, $fields);
    is($post->code, 303, "$what: the POST without the session cookie: 303 See Other")
        or diag($post->status_line . "\n" . $post->decoded_content);
    my %f = @$fields;
    is(abs_location($post), handover_url($host, $f{state}),
       '... to the callback itself, naming the attempt (its state) in the query');
    my $h = find_set_cookie($post, $HANDOVER_PREFIX . $f{state}) // '';
    ok($h, '... a hand-over cookie of that attempt') or diag(join "\n", set_cookie_headers($post));
    like($h, qr/;\s*HttpOnly\b/i, '... HttpOnly');
    like($h, qr/;\s*SameSite=Lax\b/i, '... SameSite=Lax (the GET is same-site)');
    like($h, qr/;\s*Secure\b/i, '... Secure');
    like($h, qr/;\s*Path=\Q$cb_path\E(?:;|\s*$)/i, '... only for the callback path');
    like($h, qr/;\s*Max-Age=60\b/i, '... for a minute');
    ok(!find_set_cookie($post, $SESSION), '... no session cookie set');
    ok(!(grep { /^\s*[^=;\s]*_state_(?!handover)[^=;\s]*=\s*;/ } set_cookie_headers($post)),
       '... the state cookie kept for the GET');
    is(mock_stats()->{requests}{token} // 0, $tokens, '... and the code not redeemed');
    return $post;
}

# ---- 1. step-ups to c1, then c2: the session keeps both
{
    my ($ua) = signed_in();
    my $mark = log_mark();
    my $path = '/app/admin/page?q=1&r=two%20words';
    my $post = handed_over($ua, $vh, $path, 'c1');
    my $get = follow($ua, $post);
    is($get->code, 302, 'the same-site GET (session + hand-over cookies): 302');
    is(URI->new(abs_location($get) // '')->canonical->as_string,
       URI->new(url($vh, $path))->canonical->as_string, '... back to the URL that asked');
    like(find_set_cookie($get, $HANDOVER) // '', qr/^[^=]+=;.*Max-Age=0\b/i, '... the hand-over cookie cleared');
    ok(find_set_cookie($get, $SESSION), '... the session saved again');
    my $final = follow($ua, $get);
    is($final->code, 200, 'the page that asked: 200') or diag($final->status_line);
    is(backend_claim($final, 'acrs'), 'c1', '... acrs c1');
    is(backend_claim($final, 'oid'), USER->{oid}, '... the same user');
    my @lines = entra_lines($mark);
    ok((grep { /\[auth_entra:info\].*ENTRA00245:.*oid=\Q${\USER->{oid}}\E/ } @lines),
       'log: ENTRA00245 at info (the hand-over)') or diag(join "\n", @lines);
    ok((grep { /ENTRA00235:.*authentication context c1/ } @lines), 'log: ENTRA00235 session upgraded');
    ok(!(grep { /ENTRA0024[679]|ENTRA00210/ } @lines), 'log: no refused hand-over, no fresh sign-in');

    $post = handed_over($ua, $vh, '/app/c2/x', 'c2');
    $final = follow($ua, follow($ua, $post));
    is($final->code, 200, 'the step-up to c2: 200');
    is(backend_claim($final, 'acrs'), 'c1,c2', '... the session holds c1 and c2');
    my $again = $ua->get(url($vh, '/app/admin/again'));
    is($again->code, 200, 'the c1 location is served with no trip to Entra');
    is(backend_claim($again, 'acrs'), 'c1,c2', '... as the same session');
    is($ua->get(url($vh, '/app/start'))->code, 200, '... and the rest of the site');
}

# ---- 2. a browser that withholds the session cookie on the GET too: a
# fresh session (the existing fallback), marked, no loop
{
    my ($ua) = signed_in();
    my $mark = log_mark();
    my $post = handed_over($ua, $vh, '/app/c2/y', 'c2, GET without the session cookie');
    my $cookies = join '; ', map { "$_=" . cookie_value($ua, $_) }
                             grep { /_state_/ } cookie_names($ua);
    my (undef, undef, $hid) = handover_in($ua);
    my $get = new_ua(no_cookies => 1)->get(handover_url($vh, $hid), Cookie => $cookies);
    keep_cookies($ua, $get);
    is($get->code, 302, 'the GET with the state and hand-over cookies only: 302');
    like(abs_location($get) // '', qr{/app/c2/y$}, '... back to the URL that asked');
    ok(find_set_cookie($get, $SESSION), '... a fresh session');
    my $final = follow($ua, $get);
    is($final->code, 200, '... which passes Require entra-acrs c2: no loop');
    is(backend_claim($final, 'acrs'), 'c2', '... with what this sign-in brought');
    my @lines = entra_lines($mark);
    ok((grep { /\[auth_entra:info\].*ENTRA00249:/ } @lines), 'log: ENTRA00249 at info')
        or diag(join "\n", @lines);
    ok((grep { /ENTRA00210:/ } @lines), 'log: ENTRA00210 signed in');
}

# ---- 3. replays: the hand-over works once
{
    my ($ua) = signed_in();
    my $post = handed_over($ua, $vh, '/app/admin/r', 'replay');
    my ($hname, $handover, $hid) = handover_in($ua);
    my ($state_name) = grep { /_state_(?!handover)/ } cookie_names($ua);
    my $state = $state_name ? cookie_value($ua, $state_name) : '';
    my $session = cookie_value($ua, $SESSION);
    is(follow($ua, $post)->code, 302, 'the GET leg: 302');
    my $tokens = mock_stats()->{requests}{token} // 0;

    my $mark = log_mark();
    my $r = new_ua(no_cookies => 1)->get(handover_url($vh, $hid),
                                         Cookie => "$SESSION=$session; $hname=$handover");
    is($r->code, 400, 'the same hand-over cookie again: 400');
    like($r->decoded_content // '', qr/unknown, expired or already used/, '... "unknown, expired or already used"');
    ok(!find_set_cookie($r, $SESSION), '... nothing signed in');

    $r = new_ua(no_cookies => 1)->get(handover_url($vh, $hid),
                                      Cookie => "$SESSION=$session; $state_name=$state; $hname=$handover");
    is($r->code, 400, 'again with its state cookie copied out of the browser: 400 (the code is spent)');
    ok(!find_set_cookie($r, $SESSION), '... nothing signed in');
    ok(!(grep { /\[auth_entra:(?:crit|alert|emerg)\]|Internal Server Error/ } entra_lines($mark)), '... no 500');

    $r = $ua->get(url($vh, $cb_path));
    is($r->code, 400, 'the browser at the bare callback later (no hand-over, no state): 400');
    is($ua->get(url($vh, '/app/admin/x'))->code, 200, 'the upgraded session is untouched');

    # with a socache store a used state is refused on the server, the
    # hand-over's POST included: no second hand-over
    my ($ub, $s) = signed_in('stepup_formpost_shmcb');
    my $login = $ub->get(url('stepup_formpost_shmcb', '/app/admin/x'));
    my ($action, $fields) = entra_form($ub, $login);
    my $p1 = cross_site_post($ub, $action, $fields);
    is($p1->code, 303, 'socache: the step-up\'s POST: 303');
    ($state_name) = grep { /_state_(?!handover)/ } cookie_names($ub);
    $state = cookie_value($ub, $state_name // '');
    my $done = follow($ub, follow($ub, $p1));
    is(backend_claim($done, 'acrs'), 'c1', '... upgraded: acrs c1');
    $mark = log_mark();
    my $req = POST($action, $fields);
    $req->header(Cookie => "$state_name=$state");
    $r = new_ua(no_cookies => 1)->request($req);
    is($r->code, 400, 'socache: the same POST again with its state cookie: 400, no 303');
    ok(!find_set_cookie($r, $HANDOVER) && !find_set_cookie($r, $SESSION), '... no hand-over, no session');
    ok((grep { /ENTRA00214:/ } entra_lines($mark)), 'log: ENTRA00214 (state already used)');
}

# ---- 4. what is not a step-up without its session cookie: the POST is the callback
{
    mock_reset();
    my $ua = https_ua();
    my $login = $ua->get(url($vh, '/app/first'));
    my ($action, $fields) = entra_form($ua, $login);
    my $r = cross_site_post($ua, $action, $fields);
    is($r->code, 302, 'a first sign-in by form_post: 302 at the POST (no 303)');
    ok(!find_set_cookie($r, $HANDOVER), '... no hand-over');
    ok(find_set_cookie($r, $SESSION), '... signed in');
    is(follow($ua, $r)->code, 200, '... and served');

    # a step-up POST that does bring the session cookie (a browser without
    # SameSite, or one that lets Lax cookies ride on a fresh cross-site POST)
    $login = $ua->get(url($vh, '/app/admin/direct'));
    ($action, $fields) = entra_form($ua, $login);
    my $req = POST($action, $fields);
    $r = $ua->request($req);
    is($r->code, 302, 'a step-up POST with the session cookie: 302 at once');
    ok(!find_set_cookie($r, $HANDOVER), '... no hand-over');
    my $final = follow($ua, $r);
    is(backend_claim($final, 'acrs'), 'c1', '... upgraded: acrs c1');

    # a GET with state in its query is the callback; a hand-over cookie is ignored
    my ($ub) = signed_in();
    my $post = handed_over($ub, $vh, '/app/admin/q', 'query wins');
    my ($state_name) = grep { /_state_(?!handover)/ } cookie_names($ub);
    $r = $ub->get(url($vh, "$cb_path?state=" . substr($state_name, length '__Secure-entra_session_state_')));
    is($r->code, 400, 'a GET with a state but no code in its query: that query is the callback (400: no code)');
    like($r->decoded_content // '', qr/no code/, '... "no code", not the hand-over\'s');
    ok(!(grep { /^\s*\Q$HANDOVER_PREFIX\E[^=]*=;/ } set_cookie_headers($r)),
       '... the hand-over cookie left alone');
}

# ---- 5. Entra's error on a step-up comes through the hand-over
{
    my ($ua) = signed_in();
    mock_config({ authorize_error => { error => 'access_denied',
                                       error_description => 'AADSTS50076: MFA required but not completed.' } });
    my $login = $ua->get(url($vh, '/app/admin/err'));
    my ($action, $fields) = entra_form($ua, $login);
    my $post = cross_site_post($ua, $action, $fields);
    is($post->code, 303, 'Entra\'s error POSTed at a step-up: 303');
    my $r = follow($ua, $post);
    is($r->code, 401, '... the GET: 401');
    like($r->decoded_content // '', qr/AADSTS50076/, '... the page shows Entra\'s message');
    mock_reset();
    is($ua->get(url($vh, '/app/start'))->code, 200, '... the session is kept');

    # parameters too big for a cookie: finished at the POST, as before
    $login = $ua->get(url($vh, '/app/admin/big'));
    ($action, $fields) = entra_form($ua, $login);
    my %f = @$fields;
    my $mark = log_mark();
    $post = cross_site_post($ua, $action, [state => $f{state}, error => 'access_denied',
                                           error_description => 'AADSTS50076: ' . ('x' x 4000)]);
    is($post->code, 401, 'a step-up POST whose parameters do not fit a cookie: handled at once (401)');
    ok(!find_set_cookie($post, $HANDOVER), '... no hand-over');
    ok((grep { /\[auth_entra:info\].*ENTRA00246:.*too big/ } entra_lines($mark)), 'log: ENTRA00246 at info')
        or diag(join "\n", entra_lines($mark));
}

# ---- 5b. a big cookie session (two chunks, as max_chunks allows under
# httpd's default LimitRequestFieldSize 8190): the GET brings the session
# cookies, the state cookie AND the hand-over cookie in one Cookie header.
# The step-up must end on the page that asked, never on httpd's own 400
# for a header past LimitRequestFieldSize (which the module never sees,
# and which the user meets again at every try). Under query mode the same
# session steps up fine (t/88); before the hand-over, a form_post step-up
# finished at the POST. Entra's real codes are 3-5 times the mock's, so a
# session of about 5 KB meets this with Entra.
{
    mock_reset();
    my @abc = ('A' .. 'Z', 'a' .. 'z', 0 .. 9);
    mock_config({ user => { groups_count => 10, noise => join '', map { $abc[rand @abc] } 1 .. 6400 } });
    my $ua = https_ua();
    my ($final) = form_post_sign_in($ua, $vh, '/app/start');
    is($final->code, 200, 'a big session (two cookie chunks): signed in by form_post');
    my $req = HTTP::Request->new(GET => url($vh, '/app/start'));
    $ua->cookie_jar->add_cookie_header($req);
    my $cookie_len = length($req->header('Cookie') // '');
    cmp_ok($cookie_len, '>', 7000, "... its Cookie header is big ($cookie_len bytes)");
    cmp_ok($cookie_len, '<', 7700, '... and fits LimitRequestFieldSize with room for a state cookie');

    my $mark = log_mark();
    my $login = $ua->get(url($vh, '/app/admin/big-session'));
    ok(is_login_redirect($login), 'big session: a step-up to Entra');
    my ($action, $fields) = entra_form($ua, $login);
    my $r = cross_site_post($ua, $action, $fields);
    ok($r->code == 303 || $r->code == 302, 'the POST: 303 (hand-over) or 302 (finished there)')
        or diag($r->status_line);
    my $n = 0;
    while ($r->code =~ /^30[23]$/ && $n++ < 4) {
        $r = follow($ua, $r);
    }
    is($r->code, 200, 'the step-up ends on the page that asked, not on httpd\'s 400 for a too-long Cookie header')
        or diag($r->status_line . "\n" . substr($r->decoded_content // '', 0, 300));
    is(backend_claim($r, 'acrs'), 'c1', '... with acrs c1');
    is(backend_claim($r, 'oid'), USER->{oid}, '... the same user');
    mock_reset();
}

# ---- 5c. two tabs whose step-ups come back at once (both opened from a
# list of links, Entra's SSO answering both forms at once): the POSTs
# cross before either GET. DESIGN: several tabs may log in at once. Each
# attempt has a hand-over cookie of its own, named in its 303's query: B's
# POST does not overwrite A's, and each GET finishes its own step-up.
{
    my ($ua) = signed_in();
    my (@posts, @paths) = ();
    for my $p ('/app/admin/tab-a', '/app/c2/tab-b') {
        my $login = $ua->get(url($vh, $p));
        my ($action, $fields) = entra_form($ua, $login);
        push @posts, [$action, $fields];
        push @paths, $p;
    }
    my @legs = map { cross_site_post($ua, @$_) } @posts;
    is($_->code, 303, 'two tabs: each POST 303') for @legs;
    my @gets = map { follow($ua, $_) } @legs;
    for my $i (0, 1) {
        is($gets[$i]->code, 302, "tab $i: its GET finishes its step-up");
        like(abs_location($gets[$i]) // '', qr/\Q$paths[$i]\E$/, "tab $i: ... back to its own page");
    }
}

# ---- 6. a hand-over cookie that does not open: 400, never 500, cleared
# (last: it moves the module's clock)
{
    my ($ua) = signed_in();
    handed_over($ua, $vh, '/app/admin/t', 'tamper');
    my ($hname, $handover, $hid) = handover_in($ua);
    my ($state_name) = grep { /_state_(?!handover)/ } cookie_names($ua);
    my $base = ($state_name ? "$state_name=" . cookie_value($ua, $state_name) . '; ' : '')
             . "$SESSION=" . cookie_value($ua, $SESSION);
    my %cases = (tampered => flip_b64($handover, int(length($handover) / 2)), truncated => substr($handover, 0, 20),
                 garbage => 'not-a-sealed-cookie', empty => '');
    for my $case (sort keys %cases) {
        my $mark = log_mark();
        my $r = new_ua(no_cookies => 1)->get(handover_url($vh, $hid),
                                             Cookie => "$base; $hname=$cases{$case}");
        is($r->code, 400, "hand-over cookie $case: 400");
        like($r->decoded_content // '', qr/unknown, expired or already used/, '... the bad-callback page');
        ok(!find_set_cookie($r, $SESSION), '... no session set');
        like(find_set_cookie($r, $HANDOVER) // '', qr/Max-Age=0\b/, '... the cookie cleared');
        ok(!(grep { /\[auth_entra:(?:error|crit)\]/ } entra_lines($mark)), '... no error logged');
    }

    # the hand-over of one attempt under another's name
    my $mark = log_mark();
    my $other = 'A' x 22;
    my $r = new_ua(no_cookies => 1)->get(handover_url($vh, $other),
                                         Cookie => "$base; $HANDOVER_PREFIX$other=$handover");
    is($r->code, 400, 'a hand-over cookie renamed for another attempt: 400');
    ok(!find_set_cookie($r, $SESSION), '... no session');
    ok((grep { /ENTRA00247:.*another sign-in attempt/ } entra_lines($mark)),
       'log: ENTRA00247, another attempt\'s') or diag(join "\n", entra_lines($mark));
    $r = new_ua(no_cookies => 1)->get(url($vh, $cb_path), Cookie => "$base; $hname=$handover");
    is($r->code, 400, 'the hand-over cookie at the callback with no hand-over named: 400');
    for my $bad ('..%2F..%2Fetc', 'short', 'a%0D%0ASet-Cookie:x=1', 'A' x 65) {
        $r = new_ua(no_cookies => 1)->get(url($vh, "$cb_path?entra_handover=$bad"),
                                          Cookie => "$base; $hname=$handover");
        is($r->code, 400, "a hand-over named '$bad' (no state could be so): 400");
        ok(!(grep { /x=1|etc/ } set_cookie_headers($r)), '... no cookie of its making');
    }

    # another app on this server, the same key and cookie names
    $mark = log_mark();
    $r = new_ua(no_cookies => 1)->get(handover_url('stepup_formpost_common', $hid),
                                      Cookie => "$hname=$handover");
    is($r->code, 400, 'the hand-over cookie at another app sharing EntraSessionKey: 400');
    ok(!find_set_cookie($r, $SESSION), '... no session');
    ok((grep { /\[auth_entra:info\].*ENTRA00247:.*does not open/ } entra_lines($mark)),
       'log: ENTRA00247 at info') or diag(join "\n", entra_lines($mark));

    # expired: a minute later
    advance_clock(61);
    $mark = log_mark();
    $r = new_ua(no_cookies => 1)->get(handover_url($vh, $hid), Cookie => "$base; $hname=$handover");
    is($r->code, 400, 'the hand-over cookie past its minute: 400');
    ok(!find_set_cookie($r, $SESSION), '... no session');
    ok((grep { /ENTRA00247:.*expired/ } entra_lines($mark)), 'log: ENTRA00247, expired');
    is(mock_stats()->{requests}{token} // 0, 1, 'no code redeemed by any of them (only the sign-in\'s)');
}

done_testing();
