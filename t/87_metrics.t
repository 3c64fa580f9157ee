# SetHandler entra-metrics (issue 12): Prometheus text, summed over all of
# the server's processes. A private mpm_prefork server with several
# processes and only the modules a new Debian server has (no socache
# module): scrape, sign in, fail two sign-ins (a made-up state, a code the
# token endpoint refuses), scrape again from connections that different
# processes hold, and check the counters moved by exactly that; then a
# denial by a Require, a bearer token accepted and one refused; a graceful
# restart keeps the counters, and the new generation counts on; the page
# parses as Prometheus text, names no user, and takes GET and HEAD only.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Cookies;
use EntraTest;
use EntraSessions;
use EntraStores;
use EntraShapes;

my $CB = '/.auth/login/aad/callback';
my $PAGE = '/entra-metrics';
mock_reset();

my $S = eval {
    start_apache(name => 'metrics', mpm => 'prefork', debian_modules => 1, access_log => 1,
                 extra => join("\n",
                               'LoadModule authz_host_module /usr/lib/apache2/modules/mod_authz_host.so',
                               'KeepAliveTimeout 30',
                               'MaxKeepAliveRequests 0',
                               "<Location $PAGE>",
                               '    SetHandler entra-metrics',
                               '    Require ip 127.0.0.1',
                               '</Location>',
                               "ProxyPass /api/ http://127.0.0.1:$ENV{ENTRA_BACKEND_PORT}/app/",
                               '<Location /api>',
                               '    AuthType Entra-Bearer',
                               '    Require valid-user',
                               '</Location>',
                               '<Location /denied>',
                               '    AuthType Entra',
                               '    Require entra-role Metrics.Nobody',
                               '</Location>'))
};
ok($S, 'a prefork server with several processes starts') or diag($@);
unless ($S) { done_testing(); exit 0; }

# The page taken apart: { 'name{labels}' => value }, with every line
# checked to be Prometheus text (format 0.0.4).
sub parse {
    my ($r, $what) = @_;
    my (%v, %type, @bad);
    for my $l (split /\n/, $r->content) {
        if ($l =~ /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) \S/) {
            next;
        }
        if ($l =~ /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram)$/) {
            $type{$1} = $2;
            next;
        }
        if ($l =~ /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="[^"\\\n]*",?)*\})? ([0-9]+(?:\.[0-9]+)?)$/) {
            my ($name, $labels, $value) = ($1, $2 // '', $3);
            (my $family = $name) =~ s/_(bucket|sum|count)$//;
            push @bad, "$l (no TYPE before it)" unless $type{$name} || $type{$family};
            push @bad, "$l (twice)" if exists $v{"$name$labels"};
            $v{"$name$labels"} = $value;
            next;
        }
        push @bad, $l;
    }
    is(scalar(@bad), 0, "$what: every line is Prometheus text") or diag(join "\n", @bad);
    return \%v;
}

sub scrape {
    my ($ua, $what, $tag) = @_;
    my $r = $ua->get($S->url("$PAGE?$tag"));
    is($r->code, 200, "$what: 200") or diag($r->as_string);
    like(scalar $r->header('Content-Type'), qr{^text/plain; version=0\.0\.4}, "$what: Prometheus content type");
    return parse($r, $what);
}

sub delta {
    my ($before, $after) = @_;
    my %d;
    for my $k (keys %$after) {
        my $n = $after->{$k} - ($before->{$k} // 0);
        $d{$k} = $n if $n;
    }
    return \%d;
}

my $v0 = scrape(new_ua(), 'the first scrape', 'n=0');
my @names = qw(entra_signins_started_total entra_signins_total entra_authz_denials_total
               entra_refreshes_total entra_bearer_tokens_total entra_discovery_fetches_total
               entra_discovery_fetch_failures_total entra_jwks_fetches_total
               entra_jwks_fetch_failures_total entra_session_store_errors_total
               entra_http_requests_total entra_http_request_duration_seconds_bucket
               entra_http_request_duration_seconds_sum entra_http_request_duration_seconds_count);
for my $n (@names) {
    ok(scalar(grep { /^\Q$n\E(\{|$)/ } keys %$v0), "$n is on the page");
}
for my $result (qw(ok token_refused idp_unavailable state_invalid tenant_refused)) {
    ok(exists $v0->{qq(entra_signins_total{result="$result"})}, "sign-ins by result: $result");
}
ok(exists $v0->{'entra_http_request_duration_seconds_bucket{endpoint="token",le="+Inf"}'},
   'the latency histogram has a +Inf bucket a endpoint');

# ---- one sign-in that works
my $ua = new_ua();
my $in = sign_in_at($ua, $S->url('/app/metrics/signed-in'));
is($in->code, 200, 'a sign-in works');

# ---- a callback with a made-up state: refused before Entra is asked
my $bad = new_ua()->get($S->url("$CB?state=" . ('A' x 43) . '&code=made-up'));
is($bad->code, 400, 'a callback with a made-up state: 400');

# ---- a code the token endpoint refuses
{
    my $jar = new_ua();
    my $start = $jar->get($S->url('/app/metrics/refused'), Accept => 'text/html');
    ok(is_login_redirect($start), 'a second sign-in starts');
    my $authz = $jar->get(abs_location($start));
    mock_config({ token_error => { error => 'invalid_grant', code => 70043, status => 400 } });
    my $cb = $jar->get(abs_location($authz));
    mock_config({ token_error => undef });
    is($cb->code, 400, '... and its code is refused by the token endpoint: 400');
}

# ---- scrape again, on connections that different processes hold
my @held = map { keepalive_ua() } 1 .. 3;
my @after = map { scrape($held[$_], "scrape on connection $_", "held=$_") } 0 .. $#held;
my @pids = map { served_by($S, "$PAGE?held=$_") } 0 .. $#held;
my %distinct = map { $_ => 1 } grep { defined } @pids;
is(scalar(keys %distinct), 3, "three processes answered the scrapes (@pids)");
for my $i (1 .. $#after) {
    is_deeply($after[$i], $after[0], "process $pids[$i] gives the same counters as process $pids[0]");
}
my $v1 = $after[0];
my $d = delta($v0, $v1);
my %want = (
    'entra_signins_started_total' => 2,
    'entra_signins_total{result="ok"}' => 1,
    'entra_signins_total{result="state_invalid"}' => 1,
    'entra_signins_total{result="token_refused"}' => 1,
    'entra_http_requests_total{endpoint="token",outcome="ok"}' => 1,
    'entra_http_requests_total{endpoint="token",outcome="http_error"}' => 1,
    'entra_http_request_duration_seconds_count{endpoint="token"}' => 2,
    'entra_http_request_duration_seconds_bucket{endpoint="token",le="+Inf"}' => 2,
);
is($d->{$_} // 0, $want{$_}, "$_ moved by $want{$_}") for sort keys %want;
# what else moved: the fetches of discovery and keys (per process, as
# many as processes took part), the latency sums and the lower buckets
my @other = grep {
    !exists $want{$_}
        && !/^entra_http_request_duration_seconds_(sum|bucket)\{endpoint="token"/
        && !/^entra_(discovery|jwks)_fetches_total$/
        && !/endpoint="(discovery|jwks)"/
} sort keys %$d;
is_deeply(\@other, [], 'nothing else moved (no denial, refresh, bearer token, store error, failure)')
    or diag(join "\n", map { "$_ +$d->{$_}" } @other);
for my $doc (qw(discovery jwks)) {
    my $fetched = $d->{"entra_${doc}_fetches_total"} // 0;
    is($d->{qq(entra_http_requests_total{endpoint="$doc",outcome="ok"})} // 0, $fetched,
       "$doc: as many calls that answered as fetches ($fetched)");
    is($d->{qq(entra_http_request_duration_seconds_count{endpoint="$doc"})} // 0, $fetched,
       "$doc: ... and as many timed");
}
for my $ep (qw(token discovery jwks)) {
    my $count = $v1->{qq(entra_http_request_duration_seconds_count{endpoint="$ep"})};
    my $sum = 0;
    $sum += $v1->{qq(entra_http_requests_total{endpoint="$ep",outcome="$_"})} for qw(ok http_error timeout error);
    is($count, $sum, "$ep: the histogram counts every call ($sum)");
    my $prev = 0;
    my $monotonic = 1;
    for my $le (qw(0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 5 10 +Inf)) {
        my $n = $v1->{qq(entra_http_request_duration_seconds_bucket{endpoint="$ep",le="$le"})};
        $monotonic = 0 unless defined $n && $n >= $prev;
        $prev = $n // 0;
    }
    ok($monotonic, "$ep: the buckets are cumulative");
}

# ---- a denial, a bearer token accepted and one refused
{
    my $before = scrape(new_ua(), 'before the denial and the bearer tokens', 'n=b');
    is($ua->get($S->url('/denied/x'))->code, 403, 'a signed-in user refused by a Require: 403');
    my $token = api_token();
    is(new_ua(no_cookies => 1)->get($S->url('/api/x'), Authorization => "Bearer $token")->code, 200,
       'a bearer token accepted');
    is(new_ua(no_cookies => 1)->get($S->url('/api/x'), Authorization => 'Bearer abc.def.ghi')->code,
       401, 'a bearer token refused');
    my $after = scrape(new_ua(), 'after them', 'n=c');
    my $d = delta($before, $after);
    delete $d->{$_} for grep { /discovery|jwks/ } keys %$d;  # a process's first token
    is_deeply($d, { 'entra_authz_denials_total' => 1,
                    'entra_bearer_tokens_total{result="accepted"}' => 1,
                    'entra_bearer_tokens_total{result="refused"}' => 1 },
              '... counted: one denial, one bearer token accepted, one refused')
        or diag(explain($d));
    $v1 = $after;
}

# no user data: neither the user's names nor ids appear on the page
my $page = new_ua()->get($S->url("$PAGE?n=user"))->content;
my $user = mock_info()->{user} || {};
my @ids = grep { defined && length > 3 } map { $user->{$_} } qw(preferred_username oid name email sub);
ok(@ids && !grep({ index($page, $_) >= 0 } @ids), 'no user data on the page (' . scalar(@ids) . ' values looked for)');

# ---- methods: GET and HEAD only
my $head = new_ua()->head($S->url($PAGE));
is($head->code, 200, 'HEAD: 200');
is($head->content, '', '... without a body');
my $post = new_ua()->post($S->url($PAGE), Content => 'x=1');
is($post->code, 405, 'POST: 405');
like(scalar($post->header('Allow')) // '', qr/^(?=.*\bGET\b)(?=.*\bHEAD\b)(?!.*\b(POST|PUT|DELETE)\b)/, "... Allow: GET and HEAD, no POST");

# ---- a graceful restart keeps the counters, and the new generation counts on
@held = ();
ok($S->graceful, 'a graceful restart');
my $v2 = scrape(new_ua(), 'after the graceful restart', 'n=2');
is_deeply(delta($v1, $v2), {}, 'the counters survived the graceful restart, unchanged');
my $bad2 = new_ua()->get($S->url("$CB?state=" . ('B' x 43) . '&code=made-up'));
is($bad2->code, 400, 'another made-up state after the restart: 400');
my @again = map { keepalive_ua() } 1 .. 2;
my @v3 = map { scrape($again[$_], "scrape $_ after the restart", "again=$_") } 0 .. 1;
is_deeply(delta($v2, $v3[0]), { 'entra_signins_total{result="state_invalid"}' => 1 },
          '... the new generation counts in the same counters');
is_deeply($v3[1], $v3[0], '... and every process of it sees them');

@again = ();
$S->stop;
mock_reset();
done_testing();
