# EntraSessionStore socache shmcb | redis | memcache: sign-in through the
# reverse proxy, a small cookie that holds only a sealed id (no chunks even
# for a big session), no IdP traffic once signed in, logout that really ends
# the session, and nothing readable in Redis or memcached.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use EntraTest;
use EntraStores;

my $U = USER;
# claim text that must not be readable in the store (keys or values)
my @claim_text = ($U->{name}, $U->{preferred_username}, $U->{email}, $U->{oid}, $U->{sub},
                  'Task.Read', '2f6a4c1e-0000-4000-8001-', 'contoso');

# mod_socache_redis/memcache name keys <namespace>:<hex of the module's key>
sub decode_key {
    my $k = shift;
    return $k =~ /^([^:]+):((?:[0-9a-f]{2})+)$/ ? "$1:" . pack('H*', $2) : $k;
}

sub chunk_names { grep { /^entra_session_\d+$/ } @_ }

sub groups_of {
    my $e = echo(shift) || {};
    my $g = echo_header($e, 'X-Entra-Claim-groups') // '';
    return scalar grep { length } split /,/, $g;
}

# ---- the comparison: the same big user with the default cookie store
mock_reset();
my $blob = big_user();
my $cua = new_ua();
my $cr = sign_in($cua, 'entra_st_cookie', '/app/big');
is($cr->code, 200, 'cookie store: the big user signs in');
is(groups_of($cr), 200, 'cookie store: ... with 200 groups in the session');
is(echo_header(echo($cr) || {}, 'X-Entra-Claim-x_blob'), $blob, 'cookie store: ... and a 9000-byte claim');
my @cchunks = chunk_names(cookie_names($cua));
cmp_ok(scalar @cchunks, '>=', 2, 'cookie store: the big session is split into entra_session_<n> chunks')
    or diag(join ' ', cookie_names($cua));
my $cookie_store_bytes = 0;
$cookie_store_bytes += length(cookie_value($cua, $_) // '') for 'entra_session', @cchunks;
cmp_ok($cookie_store_bytes, '>', 8000, "cookie store: $cookie_store_bytes bytes of cookies");
my $cookie_store_session = cookie_value($cua, 'entra_session');

# store name => [vhost, how to list its keys, how to read values]
my %inspect = (
    redis    => [\&redis_keys, \&redis_dump],
    memcache => [\&memcached_keys, \&memcached_dump],
);

my %cookie_of;    # store => a live session cookie (for the cross-store checks)

for my $store (qw(shmcb redis memcache)) {
    my $vh = "entra_st_$store";
    my $in = $inspect{$store};
    mock_reset();
    my $blob = big_user();
    my $mark = log_mark();
    my %before = $in ? map { $_ => 1 } $in->[0]->() : ();

    my $ua = new_ua();
    my ($final, $s) = sign_in($ua, $vh, '/app/big');
    is($final->code, 200, "$store: sign-in reaches the backend");
    my $e = echo($final) || {};
    is(scalar echo_header($e, 'X-Test-Remote-User'), $U->{preferred_username},
       "$store: ... as the user");
    is(groups_of($final), 200, "$store: ... with all 200 groups (a big session)");
    is(echo_header($e, 'X-Entra-Claim-x_blob'), $blob, "$store: ... and the 9000-byte claim");

    my $cb = $s->{callback};
    my $set = $cb ? find_set_cookie($cb, 'entra_session') // '' : '';
    my ($val) = $set =~ /^\s*entra_session=([^;]*)/;
    $val //= '';
    ok(length $val, "$store: the callback sets entra_session") or diag($set);
    cmp_ok(length $val, '<=', 200, "$store: the cookie is small (" . length($val) . ' bytes)');
    cmp_ok(length($val) * 20, '<', $cookie_store_bytes,
           "$store: ... far smaller than the cookie store's $cookie_store_bytes bytes");
    unlike($val, qr/^chunks:/, "$store: ... and not a chunk index");
    my @set_chunks = grep { /^\s*entra_session_\d+=/ } set_cookie_headers($cb || HTTP::Response->new);
    is(scalar @set_chunks, 0, "$store: no entra_session_<n> chunk cookie is set")
        or diag(join "\n", @set_chunks);
    is(scalar chunk_names(cookie_names($ua)), 0, "$store: the browser holds no chunks");
    my $cookie = session_cookie($ua);
    $cookie_of{$store} = $cookie;
    isnt($cookie, $cookie_store_session, "$store: not a cookie-store session");

    # signed in: no IdP traffic
    my $stats = mock_stats()->{requests};
    my @again = map { $ua->get(url($vh, "/app/again/$_")) } 1 .. 3;
    is_deeply([map { $_->code } @again], [200, 200, 200], "$store: three more requests: 200");
    is(scalar echo_header(echo($again[2]) || {}, 'X-Test-Remote-User'), $U->{preferred_username},
       "$store: ... as the same user");
    is_deeply(mock_stats()->{requests}, $stats, "$store: ... and not one request to the IdP");
    is(replay($cookie)->get(url($vh, '/app/replay'))->code, 200,
       "$store: the cookie alone (another browser) is the session");

    # what the store holds
    my @new;
    if ($in) {
        @new = grep { !$before{$_} } $in->[0]->();
        cmp_ok(scalar @new, '>=', 1, "$store: the session is in the store (" . scalar(@new) . ' new keys)')
            or diag('keys: ' . join(' ', $in->[0]->()));
        my $dump = $in->[1]->(@new);
        my $all = join "\n", map { "$_ => " . ($dump->{$_} // '(none)') } @new;
        cmp_ok(length $all, '>', 8000, "$store: ... the whole big session, not in the cookie");
        my @readable = grep { index($all, $_) >= 0 } @claim_text, substr($blob, 0, 40);
        is_deeply(\@readable, [], "$store: no claim text readable in its keys or values")
            or diag(substr($all, 0, 2000));
        unlike($all, qr/eyJ[A-Za-z0-9_-]{10,}\.eyJ/, "$store: no readable token (JWT) in it");
        if ($store eq 'redis') {
            my @ttl = map { scalar redis_cmd('TTL', $_) } @new;
            my @bad = grep { !($ttl[$_] > 0 && $ttl[$_] <= 3600) } 0 .. $#ttl;
            is(scalar @bad, 0, "$store: every key expires (TTL 1..3600 s: the inactivity timeout)")
                or diag("TTLs: @ttl");
        }
    }

    # logout ends it for real: the old cookie replayed is refused
    my $out = $ua->get(url($vh, '/.auth/logout'), SAME_SITE);
    is($out->code, 302, "$store: logout -> 302");
    like(find_set_cookie($out, 'entra_session') // '', qr/;\s*Max-Age=0\b/i,
         "$store: ... clears the cookie");
    my $old = replay($cookie)->get(url($vh, '/app/after-logout'));
    ok(is_login_redirect($old), "$store: the old cookie replayed after logout -> 302 to sign-in")
        or diag($old->status_line);
    if ($in) {
        my %now = map { $_ => 1 } $in->[0]->();
        # a used state's marker (<hash>.<app>.st) outlives the session on
        # purpose: it refuses a replayed callback until the state expires
        my @left = grep { $now{$_} && decode_key($_) !~ /\.st$/ } @new;
        is_deeply(\@left, [], "$store: the session's keys are gone from the store after logout")
            or diag(join "\n", map { "left: " . decode_key($_) } @left);
    }
    is_deeply([entra_problems($mark)], [], "$store: no warn/error lines from the module");

    # sign in again for the cross-store checks below
    my $ua2 = new_ua();
    is(sign_in($ua2, $vh, '/app/')->code, 200, "$store: a new sign-in works");
    $cookie_of{$store} = session_cookie($ua2);
}

# ---- cookies are only good for the store that holds their session
mock_reset();
my $mark = log_mark();
my @cross = (
    ['memcache', 'entra_st_redis',    'a memcache session id on the Redis vhost'],
    ['redis',    'entra_st_memcache', 'a Redis session id on the memcache vhost'],
    ['redis',    'entra_st_shmcb',    'a Redis session id on the shmcb vhost'],
    ['redis',    'entra_st_cookie',   'a socache session id on the cookie-store vhost'],
);
for my $c (@cross) {
    my ($from, $vh, $name) = @$c;
    my $r = replay($cookie_of{$from})->get(url($vh, '/app/cross'));
    ok(is_login_redirect($r), "$name -> 302 to sign-in") or diag($r->status_line);
}
my $r = replay($cookie_store_session)->get(url('entra_st_redis', '/app/cross'));
ok(is_login_redirect($r), 'a cookie-store session on the Redis vhost -> 302 to sign-in')
    or diag($r->status_line);
(my $tampered = $cookie_of{redis}) =~ s/^(.{10})(.)/$1 . ($2 eq 'A' ? 'B' : 'A')/e;
$r = replay($tampered)->get(url('entra_st_redis', '/app/tampered'));
ok(is_login_redirect($r), 'a tampered session-id cookie -> 302 to sign-in') or diag($r->status_line);
$r = replay('x' x 60)->get(url('entra_st_redis', '/app/junk'));
ok(is_login_redirect($r), 'a junk cookie -> 302 to sign-in') or diag($r->status_line);
is(replay($cookie_of{redis})->get(url('entra_st_redis', '/app/still'))->code, 200,
   '... while the real one still works');
is_deeply([entra_problems($mark)], [], 'no warn/error lines for foreign or tampered cookies');

# ---- shmcb holds more than a handful of sessions: 50 users signed in one
# after the other are all still signed in (the default shmcb size is 512 kB,
# these sessions about 1 kB each)
{
    mock_reset();
    my @cookies;
    for my $i (1 .. 50) {
        my $b = new_ua();
        my $r = sign_in($b, 'entra_st_shmcb', "/app/many$i");
        last unless $r->code == 200;
        push @cookies, session_cookie($b);
    }
    is(scalar @cookies, 50, 'shmcb: 50 users sign in');
    my @gone = grep { replay($cookies[$_ - 1])->get(url('entra_st_shmcb', '/app/still'))->code != 200 }
               1 .. @cookies;
    is_deeply(\@gone, [], 'shmcb: ... and all 50 are still signed in')
        or diag(scalar(@gone) . ' of them were dropped from the store: users ' . join(' ', @gone));
}

# ---- EntraPassAccessToken with Redis: the token stays on the server
mock_reset();
my $ua = new_ua();
my ($final, $s) = sign_in($ua, 'entra_st_token', '/app/token');
is($final->code, 200, 'pass-access-token: signed in');
my $at = echo_header(echo($final) || {}, 'X-Entra-Access-Token') // '';
cmp_ok(length $at, '>', 100, 'pass-access-token: the backend gets the access token');
my $sc = session_cookie($ua) // '';
cmp_ok(length $sc, '<=', 200, 'pass-access-token: the cookie stays small (' . length($sc) . ' bytes)');
is(scalar chunk_names(cookie_names($ua)), 0, 'pass-access-token: no chunks');
unlike(join("\n", values %{ redis_dump() }), qr/\Q$at\E/,
       'pass-access-token: the token is not readable in Redis') if length $at;
my $stats = mock_stats()->{requests};
my $again = $ua->get(url('entra_st_token', '/app/token2'));
is($again->code, 200, 'pass-access-token: second request 200');
is(echo_header(echo($again) || {}, 'X-Entra-Access-Token'), $at, '... with the same token');
is_deeply(mock_stats()->{requests}, $stats, '... and no IdP traffic');
is($ua->get(url('entra_st_token', '/.auth/logout'), SAME_SITE)->code, 302, 'pass-access-token: logout');
ok(is_login_redirect(replay($sc)->get(url('entra_st_token', '/app/'))),
   '... the old cookie is refused');

done_testing();
