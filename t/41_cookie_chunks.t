# EntraSessionStore cookie: a session that outgrows one cookie is split into
# entra_session_<n> chunks (the main cookie says how many) and put back
# together; a missing, extra, swapped or tampered chunk means "not signed
# in" (a new sign-in, or 401 for a script), never a server error; logout and
# a smaller session clear every chunk.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use EntraTest;
use EntraSessions;

my $vh  = 'sess_chunks';        # httpd's default request limits
my $big = 'sess_chunks_big';    # LimitRequestFieldSize 65536
my $gen = sub { sprintf '2f6a4c1e-0000-4000-8001-%012d', shift };
my @listed = @{ USER->{groups} };
# Sessions are deflated before sealing, and generated group ids compress to
# almost nothing: a claim of random text keeps a session big after that.
my $noise = sub { my $n = shift; join '', map { ('A' .. 'Z', 'a' .. 'z', 0 .. 9)[rand 62] } 1 .. $n };

mock_reset();
my $mark = log_mark();

# ---- a two-chunk session: 100 generated groups and 5000 random characters
mock_config({ user => { groups_count => 100, noise => $noise->(5000) } });
my $ua = new_ua();
my ($final, $s) = sign_in($ua, $vh, '/app/chunks');
my $cb = $s->{callback};
ok($cb && $cb->code == 302, 'sign-in with 102 groups: callback 302');
my $main_sc = $cb ? find_set_cookie($cb, 'entra_session') // '' : '';
like($main_sc, qr/^entra_session=chunks:2;/, 'main cookie says "chunks:2"');
for my $i (0, 1) {
    my $h = $cb ? find_set_cookie($cb, "entra_session_$i") // '' : '';
    ok(length $h, "chunk entra_session_$i set");
    like($h, qr/;\s*HttpOnly/i, "... HttpOnly");
    like($h, qr/;\s*SameSite=Lax/i, "... SameSite=Lax");
    like($h, qr/;\s*Path=\/(?:;|\s*$)/i, "... Path=/");
    cmp_ok(length($h), '<=', 4096, '... fits the 4096 bytes a browser keeps for one cookie');
}
ok(!($cb && find_set_cookie($cb, 'entra_session_2')), 'no third chunk');

is($final->code, 200, 'the chunked session is put back together: 200');
my @want = (@listed, map { $gen->($_) } 1 .. 100);
my $groups = backend_header($final, 'X-Entra-Claim-groups') // '';
is_deeply([split /,/, $groups], \@want, 'backend gets all 102 groups, in order');
is(backend_header($final, 'X-Test-Remote-User'), USER->{preferred_username}, 'REMOTE_USER from the chunked session');

my $c = session_cookies($ua);
my @chunks = chunk_names($c);
is_deeply(\@chunks, ['entra_session_0', 'entra_session_1'], 'browser holds entra_session_0 and _1');
my @pairs = (['entra_session', $c->{entra_session} // ''], map { [$_, $c->{$_} // ''] } @chunks);
my ($c0, $c1) = map { $c->{$_} // '' } @chunks;

# control: the same cookies by hand
my $r = raw_get($vh, '/app/chunks', session_cookie_header(@pairs));
is($r->code, 200, 'the same cookies sent by hand: 200');

# the browser may send cookies in any order: names count, not positions
$r = raw_get($vh, '/app/chunks', session_cookie_header(reverse @pairs));
is($r->code, 200, 'cookies in reverse order in the Cookie header: still signed in');
$r = raw_get($vh, '/app/chunks', session_cookie_header(@pairs[1, 0, 2]));
is($r->code, 200, 'chunk 0 before the main cookie: still signed in');

# an unrelated cookie of the site before and after
$r = raw_get($vh, '/app/chunks', session_cookie_header(['_ga', 'GA1.1.123'], @pairs, ['theme', 'dark']));
is($r->code, 200, 'other cookies around the chunks: still signed in');

# ---- broken sets: a new sign-in for a browser, never 500
my %bad = (
    'chunk 1 missing'                  => [['entra_session', 'chunks:2'], ['entra_session_0', $c0]],
    'chunk 0 missing'                  => [['entra_session', 'chunks:2'], ['entra_session_1', $c1]],
    'only the chunks, no main cookie'  => [['entra_session_0', $c0], ['entra_session_1', $c1]],
    'an extra chunk 2'                 => [@pairs, ['entra_session_2', 'AAAA']],
    'an extra chunk 2 repeating chunk 1' => [@pairs, ['entra_session_2', $c1]],
    'an extra chunk 7'                 => [@pairs, ['entra_session_7', $c1]],
    'chunk values swapped'             => [['entra_session', 'chunks:2'], ['entra_session_0', $c1], ['entra_session_1', $c0]],
    'chunk 0 tampered'                 => [['entra_session', 'chunks:2'], ['entra_session_0', flip_b64($c0, 1000)], ['entra_session_1', $c1]],
    'chunk 1 tampered (last char)'     => [['entra_session', 'chunks:2'], ['entra_session_0', $c0], ['entra_session_1', flip_b64($c1, length($c1) - 1)]],
    'chunk 1 truncated'                => [['entra_session', 'chunks:2'], ['entra_session_0', $c0], ['entra_session_1', substr($c1, 0, -4)]],
    'chunk 1 empty'                    => [['entra_session', 'chunks:2'], ['entra_session_0', $c0], ['entra_session_1', '']],
    'chunk 1 twice (second a copy of 0)' => [@pairs, ['entra_session_1', $c0]],
    'main says chunks:3'               => [['entra_session', 'chunks:3'], @pairs[1, 2]],
    'main says chunks:1'               => [['entra_session', 'chunks:1'], @pairs[1, 2]],
    'main says chunks:0'               => [['entra_session', 'chunks:0'], @pairs[1, 2]],
    'main says chunks:-1'              => [['entra_session', 'chunks:-1'], @pairs[1, 2]],
    'main says chunks:99999999999999999999' => [['entra_session', 'chunks:99999999999999999999'], @pairs[1, 2]],
    'main says chunks:abc'             => [['entra_session', 'chunks:abc'], @pairs[1, 2]],
    'main says chunks:'                => [['entra_session', 'chunks:'], @pairs[1, 2]],
    'main says chunks:2x'              => [['entra_session', 'chunks:2x'], @pairs[1, 2]],
    'chunk named entra_session_00'     => [['entra_session', 'chunks:2'], ['entra_session_00', $c0], ['entra_session_1', $c1]],
);
# (sent to the vhost with room for long Cookie headers, so that httpd's own
# 400 for an oversized header cannot stand in for the module's answer; the
# session key is the same)
is(raw_get($big, '/app/chunks', session_cookie_header(@pairs))->code, 200,
   'the genuine chunks open on the roomier vhost too (same key)');
for my $name (sort keys %bad) {
    my $cookie = session_cookie_header(@{ $bad{$name} });
    my $res = raw_get($big, '/app/chunks', $cookie, Accept => 'text/html');
    ok(is_login_redirect($res), "$name: a browser is sent to sign in")
        or diag($res->status_line);
    my $api = raw_get($big, '/app/chunks', $cookie, 'X-Requested-With' => 'XMLHttpRequest');
    ok(is_api_challenge($api), "$name: a script gets 401 with a challenge")
        or diag($api->status_line);
}

# a single-cookie session with stale chunks next to it is still the single one
{
    my $small = new_ua();
    mock_config({ user => { groups_count => 0, noise => undef } });
    is(sign_in($small, $vh, '/app/one')->code, 200, 'a small session: one cookie');
    my $one = cookie_value($small, 'entra_session') // '';
    unlike($one, qr/^chunks:/, '... not chunked');
    my $res = raw_get($vh, '/app/one', session_cookie_header(['entra_session', $one], ['entra_session_0', $c0], ['entra_session_1', $c1]));
    is($res->code, 200, 'single-cookie session with stale chunks beside it: still signed in');
}

# ---- the session shrinks: a new sign-in in a browser that still holds the
# chunks of a broken (here: tampered) session drops them
{
    mock_config({ user => { groups_count => 0, noise => undef } });
    my $again = new_ua();
    set_cookie_values($again, entra_session => 'chunks:2', entra_session_0 => $c0,
                      entra_session_1 => flip_b64($c1, 10));
    my ($f2, $s2) = sign_in($again, $vh, '/app/shrink');
    is($f2->code, 200, 'signing in again with a small session');
    # the sign-in's start already deletes the session cookies that did not open
    my $st2 = $s2->{start};
    ok($st2 && cleared_cookie($st2, 'entra_session_0'), '... its start clears chunk 0');
    ok($st2 && cleared_cookie($st2, 'entra_session_1'), '... and chunk 1');
    my $left = session_cookies($again);
    is_deeply([chunk_names($left)], [], '... the browser keeps no chunk');
    unlike($left->{entra_session} // '', qr/^chunks:/, '... and one plain session cookie');
    is(scalar(() = (backend_header($f2, 'X-Entra-Claim-groups') // '') =~ /,/g) + 1, 2, '... with the two listed groups');
}

# ---- logout clears every chunk (and stray ones the browser sent)
{
    my $lo = new_ua();
    set_cookie_values($lo, (map { $_->[0] => $_->[1] } @pairs), entra_session_5 => 'stale');
    my $out = $lo->get(url($vh, '/.auth/logout'), SAME_SITE);
    is($out->code, 302, 'logout: 302');
    for my $n (qw(entra_session entra_session_0 entra_session_1 entra_session_5)) {
        ok(cleared_cookie($out, $n), "logout clears $n") or diag(join "\n", set_cookie_headers($out));
    }
    is_deeply(session_cookies($lo), {}, 'the browser holds no session cookie at all');
    ok(is_login_redirect($lo->get(url($vh, '/app/chunks'), Accept => 'text/html')), 'next request: sign in again');
}

# ---- three chunks (room for them in LimitRequestFieldSize)
{
    mock_config({ user => { groups_count => 198, noise => $noise->(9000) } });
    my $b = new_ua();
    my ($f3, $s3) = sign_in($b, $big, '/app/three');
    like(find_set_cookie($s3->{callback}, 'entra_session') // '', qr/^entra_session=chunks:3;/, '200 groups: three chunks');
    is($f3->code, 200, '... put back together');
    my @g = split /,/, backend_header($f3, 'X-Entra-Claim-groups') // '';
    is(scalar @g, 200, '... all 200 groups reach the backend');
    my $c3 = session_cookies($b);
    my @p3 = (['entra_session', $c3->{entra_session}], map { [$_, $c3->{$_}] } chunk_names($c3));
    is(scalar @p3, 4, 'browser holds the main cookie and three chunks');
    ok(is_login_redirect(raw_get($big, '/app/three', session_cookie_header(@p3[0, 1, 3]), Accept => 'text/html')),
       'the middle chunk missing: sign in');
    ok(is_login_redirect(raw_get($big, '/app/three', session_cookie_header(@p3[0, 1, 2]), Accept => 'text/html')),
       'the last chunk missing: sign in');
    ok(is_login_redirect(raw_get($big, '/app/three',
                                 session_cookie_header($p3[0], $p3[1], [$p3[2][0], $p3[3][1]], [$p3[3][0], $p3[2][1]]),
                                 Accept => 'text/html')),
       'chunks 1 and 2 swapped: sign in');
    is(raw_get($big, '/app/three', session_cookie_header(@p3[3, 1, 0, 2]))->code, 200,
       'all three in a shuffled order: signed in');
    my $out = $b->get(url($big, '/.auth/logout'), SAME_SITE);
    ok(cleared_cookie($out, "entra_session_$_"), "logout clears chunk $_ of 3") for 0 .. 2;
}

# ---- with httpd's default limits a browser must still get in (and out) with
# a session of 150 groups: chunks the server itself refuses to read (400,
# Cookie header over LimitRequestFieldSize) lock the user out, logout included.
{
    mock_config({ user => { groups_count => 148, noise => undef } });
    my $b = new_ua();
    my ($f4, $s4) = sign_in($b, $vh, '/app/many');
    is($f4->code, 200, '150 groups, default request limits: the signed-in request reaches the backend')
        or diag('got ' . $f4->status_line . '; cookies set: '
                . join(', ', map { /^([^=]+)=([^;]*)/ ? "$1 (" . length($2) . ' bytes)' : () }
                              set_cookie_headers($s4->{callback} || $f4)));
    my $out = $b->get(url($vh, '/.auth/logout'), SAME_SITE);
    is($out->code, 302, '... and can sign out') or diag($out->status_line);
}

my @bad = grep { /\[auth_entra:(?:emerg|alert|crit)\]|\[core:error\].*(?:segfault|exit signal)/ } log_since($mark);
is(scalar @bad, 0, 'no crit lines or crashes') or diag(join "\n", @bad);

done_testing();
