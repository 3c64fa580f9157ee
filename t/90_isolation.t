# Several apps on one server, one EntraSessionKey (set once in the main
# server), one session store: a session, a state or a cookie of one app never
# opens another (t/conf/isolation.conf.in). Also: EntraUnauthAction pass never
# invents a user, the module's cookies never reach a backend, __Host- and
# __Secure- names with EntraCookieSecure On, SameSite=None always Secure, a
# state used once on the server, and state cookies that cannot pile up.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Request;
use EntraTest;
use EntraSessions ();

my $OTHER_TID = '7c2e9a41-5b3d-4f6e-9a8b-0c1d2e3f4a5b';
my $SESSION_RE = qr/^entra_session_[0-9a-f]{8}$/;

mock_reset();

sub port_of { Apache::Test::config()->{vhosts}{ $_[0] }{port} }

# The two name-based apps share one port.
my $named = port_of('iso_named');
my $A = "http://localhost:$named";      # EntraTenant common
my $B = "http://127.0.0.1:$named";      # EntraTenant <the test tenant>

# Sign in at an absolute base URL; (final response, session cookie name, value)
sub sign_in_at {
    my ($ua, $base, $path) = @_;
    my $start = $ua->get($base . ($path // '/app/'));
    return ($start) unless is_login_redirect($start);
    my $authz = authorize_at_mock($ua, $start);
    return ($authz) unless $authz->code == 302;
    my $cb = finish_callback($ua, $authz);
    my $sc = find_set_cookie($cb, $SESSION_RE) // find_set_cookie($cb, qr/^iso_shared$/) // '';
    my ($name, $value) = $sc =~ /^\s*([^=;\s]+)=([^;]*)/;
    return ($cb) unless $cb->code == 302;
    return (follow($ua, $cb), $name, $value);
}

# A request with exactly this Cookie header (a browser, or an attacker).
my $raw = new_ua(no_cookies => 1);
sub with_cookie {
    my ($url, $cookie, @h) = @_;
    return $raw->get($url, Cookie => $cookie, Accept => 'text/html', @h);
}
sub signed_in { my $r = shift; return $r->code == 200 && echo($r) ? 1 : 0 }

# ------------------------------------------------ two vhosts on one port
my ($fa, $na, $va) = sign_in_at(new_ua(), $A);
my ($fb, $nb, $vb) = sign_in_at(new_ua(), $B);
is($fa->code, 200, 'app A (common, localhost): signed in');
is($fb->code, 200, 'app B (test tenant, 127.0.0.1, same port): signed in');
like($na // '', $SESSION_RE, 'A: a session cookie name of its own, derived from the app');
like($nb // '', $SESSION_RE, 'B: likewise');
isnt($na, $nb, 'the two apps on one port have different cookie names (no eviction)');

ok(signed_in(with_cookie("$A/app/x", "$na=$va; $nb=$vb")), 'A with both cookies (one browser, one host): A\'s session');
ok(signed_in(with_cookie("$B/app/x", "$na=$va; $nb=$vb")), 'B with both cookies: B\'s session, A\'s did not evict it');
ok(is_login_redirect(with_cookie("$B/app/x", "$nb=$va")),
   'A\'s session (same tenant, same key) under B\'s name: not signed in at B, a new sign-in');
ok(is_login_redirect(with_cookie("$A/app/x", "$na=$vb")), 'B\'s session at A: not signed in either');

# a user of another organization signs in to the permissive app
mock_config({ user => { tid => $OTHER_TID } });
my ($fo, $no, $vo) = sign_in_at(new_ua(), $A);
is($fo->code, 200, 'a user of another tenant signs in at the permissive app');
ok(is_login_redirect(with_cookie("$B/app/x", "$nb=$vo")),
   '... and that session does not open the restricted app');
mock_reset();

# ------------------------------------------- two ports, one shared Redis
my $C = base_url('iso_redis_common');
my $D = base_url('iso_redis_tenant');
my ($fc, $nc, $vc) = sign_in_at(new_ua(), $C);
my ($fd, $nd, $vd) = sign_in_at(new_ua(), $D);
is($fc->code, 200, 'Redis app C (common): signed in');
is($fd->code, 200, 'Redis app D (test tenant, another port, same Redis): signed in');
isnt($nc, $nd, 'their cookie names differ');
ok(signed_in(with_cookie("$C/app/x", "$nc=$vc; $nd=$vd")), 'C with both cookies: its own session');
ok(signed_in(with_cookie("$D/app/x", "$nc=$vc; $nd=$vd")), 'D with both cookies: its own session');
ok(is_login_redirect(with_cookie("$D/app/x", "$nd=$vc")), 'C\'s session id under D\'s name: not signed in at D');
ok(is_login_redirect(with_cookie("$C/app/x", "$nc=$vd")), 'D\'s session id at C: not signed in');
{
    my $port = $ENV{ENTRA_REDIS_PORT} or BAIL_OUT('ENTRA_REDIS_PORT is not set (run through t/TEST)');
    my @keys = `redis-cli -p $port --scan 2>/dev/null`;
    chomp @keys;
    ok(scalar @keys, 'Redis: redis-cli lists the session keys');
    # mod_socache_redis stores "<tag>:<hex of the key>"
    @keys = map { /:([0-9a-fA-F]+)$/ ? pack('H*', $1) : $_ } @keys;
    my %tags = map { (/\.([0-9a-f]{8})\.s$/ ? ($1 => 1) : ()) } @keys;
    my ($tc) = $nc =~ /_([0-9a-f]{8})$/;
    my ($td) = $nd =~ /_([0-9a-f]{8})$/;
    ok($tags{$tc} && $tags{$td}, 'Redis: each app\'s sessions under keys of its own') or diag(join ' ', @keys);
    ok(!grep({ /\.s$/ && !/\.[0-9a-f]{8}\.s$/ } @keys), 'Redis: no session key without an app');
}

# ------------------- a tenant taken out of EntraAllowedTenants: at once
my ($fe, $ne, $ve) = sign_in_at(new_ua(), base_url('iso_all_tenants'));
is($fe->code, 200, 'signed in while the tenant is allowed');
is($ne, 'iso_shared', '... EntraCookieName names the cookie');
my $mark = log_mark();
ok(is_login_redirect(with_cookie(url('iso_allowed', '/app/x'), "iso_shared=$ve")),
   'the same app without that tenant in EntraAllowedTenants: the session no longer opens');
ok(grep({ /\[auth_entra:info\].*ENTRA00409:/ } log_since($mark)), '... logged at info (ENTRA00409)');

# ------------------------------------------------ EntraUnauthAction pass
my $pass = base_url('iso_pass');
my $access = File::Spec->catfile(Apache::Test::config()->{vars}{t_logs}, 'iso_pass_access_log');
my $access_from = -s $access || 0;     # this run's lines only (the log outlives runs)
my $anon = new_ua();
my $r = $anon->get("$pass/site/page", Accept => 'text/html');
is($r->code, 200, 'pass, not signed in: the backend is reached (Require all granted)');
is(echo_header(echo($r) || {}, 'X-Test-Remote-User') // '', '', '... with no REMOTE_USER');
$r = $anon->get("$pass/site/admin/x", Accept => 'text/html');
ok(is_login_redirect($r), 'pass, not signed in, Require valid-user: a sign-in, not the page')
    or diag($r->status_line);
ok(!echo($r), '... the backend never saw it');
$r = $anon->get("$pass/site/admin/x", Accept => 'application/json');
is($r->code, 401, '... an API caller gets 401');
$r = $anon->get("$pass/site/admins-group/x", Accept => 'application/json');
is($r->code, 401, 'pass, not signed in, Require entra-group: 401');
{
    open my $fh, '<', $access;
    seek $fh, $access_from, 0 if $fh;
    my @lines = $fh ? <$fh> : ();
    ok((grep { m{^- GET /site/page } } @lines), 'access log: "-" for the anonymous caller')
        or diag(@lines);
    ok(!(grep { m{^\S* GET /site/admin} && !m{^- } } @lines), 'access log: no user for the refused calls');
}
my $user = new_ua();
my ($fs) = sign_in_at($user, $pass, '/app/');
is($fs->code, 200, 'signed in on the pass site');
$r = $user->get("$pass/site/page");
is(echo_header(echo($r) || {}, 'X-Test-Remote-User'), USER->{preferred_username},
   'pass, signed in: REMOTE_USER reaches the app even under Require all granted');
is($user->get("$pass/site/admin/x")->code, 200, 'pass, signed in: Require valid-user lets the user in');

# ------------------------------------- no module cookie reaches a backend
{
    my ($sname) = grep { $_ =~ $SESSION_RE } cookie_names($user);
    my $jar = join '; ', "keep=1", "$sname=" . cookie_value($user, $sname),
        'entra_session_deadbeef=x', '__Host-entra_session_0badcafe=y', 'entra_state_0badcafe_abc=z',
        '__Secure-entra_state_0badcafe_abc=z', 'other=2';
    for my $path ('/open/x', '/site/page', '/app/x') {
        my $e = echo(with_cookie("$pass$path", $jar)) || {};
        my $seen = join '; ', echo_header($e, 'Cookie');
        is($seen, 'keep=1; other=2', "$path: the backend sees only the site's own cookies")
            or diag($seen);
    }
}

# ------------------------------------------- Secure: __Host- / __Secure-
{
    my $sec = base_url('iso_secure');
    my $ua = new_ua();
    my $start = $ua->get("$sec/app/x", Accept => 'text/html');
    ok(is_login_redirect($start), 'EntraCookieSecure On: a sign-in starts');
    my $state = find_set_cookie($start, qr/^__Secure-entra_state_[0-9a-f]{8}_/);
    ok($state, '... the state cookie is named __Secure-entra_state_<app>_<state>') or diag(join "\n", set_cookie_headers($start));
    like($state // '', qr/;\s*Secure/i, '... and is Secure');
    like($state // '', qr{;\s*Path=/\.auth/login/aad/callback}i, '... path-scoped to the callback');
    my $pending = find_set_cookie($start, qr/^__Host-entra_session_[0-9a-f]{8}_pending$/);
    ok($pending && $pending =~ /;\s*Secure/i && $pending =~ m{;\s*Path=/(?:;|$)} && $pending !~ /domain=/i,
       'the pending sign-ins index is a __Host- cookie') or diag($pending);
    my ($sn, $sv) = ($state // '') =~ /^\s*([^=;\s]+)=([^;]*)/;
    my $authz = authorize_at_mock($ua, $start);
    my $cb = $raw->get(abs_location($authz), Cookie => "$sn=$sv");
    is($cb->code, 302, 'the callback (state cookie sent by hand, as a browser over https would)');
    my $sess = find_set_cookie($cb, qr/^__Host-entra_session_[0-9a-f]{8}$/);
    ok($sess, 'the session cookie is named __Host-entra_session_<app>') or diag(join "\n", set_cookie_headers($cb));
    ok($sess && $sess =~ /;\s*Secure/i && $sess =~ m{;\s*Path=/(?:;|$)} && $sess !~ /domain=/i,
       '... Secure, Path=/, no Domain');
    my ($n, $v) = ($sess // '') =~ /^\s*([^=;\s]+)=([^;]*)/;
    ok(signed_in($raw->get("$sec/app/x", Cookie => "$n=$v")), '... and it signs the user in');
    (my $plain = $n // '') =~ s/^__Host-//;
    ok(is_login_redirect(with_cookie("$sec/app/x", "$plain=$v")),
       'the same value without the prefix (planted by a sibling or over http) is no session');
}

# ------------------------------- form_post: SameSite=None is always Secure
{
    my $start = new_ua()->get(url('iso_form_post', '/app/x'), Accept => 'text/html');
    my $state = find_set_cookie($start, qr/^entra_state_[0-9a-f]{8}_/) // '';
    like($state, qr/;\s*SameSite=None/i, 'form_post: the state cookie is SameSite=None');
    like($state, qr/;\s*Secure/i, '... and Secure, though EntraCookieSecure is Off');
}

# ---------------------------- a state is single-use with a socache store
{
    my $ua = new_ua();
    my $start = $ua->get("$D/app/once", Accept => 'text/html');
    my $sc = find_set_cookie($start, qr/^entra_state_[0-9a-f]{8}_/) // '';
    my ($sn, $sv) = $sc =~ /^\s*([^=;\s]+)=([^;]*)/;
    my $authz = authorize_at_mock($ua, $start);
    my $cb_url = abs_location($authz);
    my $cb = $raw->get($cb_url, Cookie => "$sn=$sv");
    is($cb->code, 302, 'Redis store: the callback signs the user in');
    my $tokens = mock_stats()->{requests}{token} // 0;
    my $mark = log_mark();
    my $again = $raw->get($cb_url, Cookie => "$sn=$sv");
    is($again->code, 400, 'the same state cookie and callback replayed: refused');
    ok(!find_set_cookie($again, qr/^entra_session_/), '... no session');
    is(mock_stats()->{requests}{token} // 0, $tokens, '... and no second token request');
    ok(grep({ /\[auth_entra:info\].*ENTRA00214:.*already used/ } log_since($mark)), '... logged at info as a replay (ENTRA00214)');
}

# -------- a session bigger than the store gives back: refused at save
{
    # 40 KB of claim that deflate cannot shrink, published 23 times
    # (EntraClaimMap): the sealed session (~900 KB) is past the 16 parts of
    # 48 KB a socache session is kept in
    srand(9);
    my $junk = join '', map { ('A' .. 'Z', 'a' .. 'z', 0 .. 9)[int rand 62] } 1 .. 40_000;
    mock_config({ user => { x_profile_blob => $junk } });
    my $big = base_url('iso_redis_big');
    my $ua = new_ua();
    my $mark = log_mark();
    my ($r) = sign_in_at($ua, $big, '/app/big');
    is($r->code, 500, 'Redis store, a session of ~900 KB: the sign-in is refused when it is saved');
    like($r->decoded_content, qr/more information than this server can keep/, '... with a page that says why');
    ok(!find_set_cookie($r, qr/^entra_session_[0-9a-f]{8}$/), '... and no session cookie');
    ok(grep({ /\[auth_entra:error\].*ENTRA00410:.*not stored/ } log_since($mark)), '... logged at error (ENTRA00410)');
    mock_reset();
    my $next = $ua->get("$big/app/next", Accept => 'text/html');
    ok(is_login_redirect($next), 'the next request is a new sign-in, not a 503');
}

# ------------------------- twenty abandoned sign-ins, the 21st completes
{
    my $ua = new_ua();
    my $long = 'q=' . ('z' x 1500);
    for my $i (1 .. 20) {
        my $r = $ua->get("$A/app/try$i?$long", Accept => 'text/html');
        is_login_redirect($r) or fail("start $i: " . $r->status_line);
    }
    my $probe = HTTP::Request->new(GET => "$A/.auth/login/aad/callback");
    $ua->cookie_jar->add_cookie_header($probe);
    my $len = length($probe->header('Cookie') // '');
    cmp_ok($len, '<', 6000, "after 20 starts, the callback's Cookie header stays small ($len bytes)");
    my ($final) = sign_in_at($ua, $A, "/app/last?$long");
    is($final->code, 200, 'the 21st sign-in completes');
    is((echo($final) || {})->{query}, $long, '... back at its own long URL');
}

# ---- the validated bearer-token cache keeps each virtual host's rules: a
# token of a tenant iso_allowed refuses, accepted (and cached) at
# iso_all_tenants (the same app registration), is still refused there
{
    mock_reset();
    my $t = EntraSessions::api_token();
    my $bearer = sub { EntraSessions::raw_get($_[0], '/app/api/x', undef, Authorization => "Bearer $t", Connection => 'close') };
    is($bearer->('iso_allowed')->code, 401, 'bearer: iso_allowed refuses the test tenant\'s token');
    my $ok = grep { $bearer->('iso_all_tenants')->code == 200 } 1 .. 20;
    is($ok, 20, '... iso_all_tenants (same app, every tenant) takes it 20 times (cached now)');
    my $m = log_mark();
    my @codes = map { $bearer->('iso_allowed')->code } 1 .. 20;
    is(scalar(grep { $_ != 401 } @codes), 0, '... and iso_allowed still refuses it, every time')
        or diag("@codes");
    ok(scalar(grep { /ENTRA00703:.*tenant is not admitted/ } log_since($m)) >= 1,
       '... for its tenant (ENTRA00703)');
}

done_testing();
