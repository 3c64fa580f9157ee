# Managed identity as the app's credential (EntraManagedIdentity): the
# client assertion is the identity's token from the mock's IMDS-shaped
# endpoint, fetched once for the server's processes, renewed before it
# expires; an endpoint down or slow gives 502 and one log line, then a
# back-off; a federated credential Entra refuses is logged with its AADSTS
# code and the fix.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes ();
use EntraTest;

my $info = mock_info();
my $fic = { federated_issuer  => $info->{mi_issuer},
            federated_subject => $info->{mi_object_id} };
sub imds_calls { mock_stats()->{requests}{imds} }

# ------------------------------------------------------------ signed in --
mock_reset();
mock_config({ %$fic, managed_identity_lifetime => 900 });
my $n0 = imds_calls();
my $final = sign_in(new_ua(), 'mi_app', '/app/mi');
is($final->code, 200, 'managed identity: signed in');
my $st = mock_stats();
is($st->{requests}{imds} - $n0, 1, '... the identity token was fetched once');
my $q = $st->{last}{imds}{query} || {};
is($q->{'api-version'}, '2018-02-01', '... IMDS api-version');
is($q->{resource}, 'api://AzureADTokenExchange', '... for api://AzureADTokenExchange');
is($q->{client_id}, $info->{mi_client_id}, '... of the configured identity');
is($st->{last}{imds}{metadata}, 'true', '... with Metadata: true');
my $t = $st->{last}{token} || {};
is($t->{auth_method}, 'federated', '... sent as a federated client assertion');
is($t->{client_assertion}{claims}{sub}, $info->{mi_object_id}, '... the identity\'s token');
ok(!exists $t->{client_secret}, '... no secret');
record_secret('managed identity token', $t->{client_assertion_jwt});

# more sign-ins, several at once (other processes, other threads): no new fetch
my @pids;
for my $i (1 .. 4) {
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        my $r = sign_in(new_ua(), 'mi_app', "/app/mi-$i");
        exit($r->code == 200 ? 0 : 1);
    }
    push @pids, $pid;
}
my $ok = 0;
for (@pids) { waitpid($_, 0); $ok++ if $? == 0 }
is($ok, 4, 'four sign-ins at once: all signed in');
is(imds_calls() - $n0, 1, '... with the token fetched once, shared');

SKIP: {
    skip 'the module has no test clock', 3 unless EntraTest::test_clock();
    # 900 s tokens: renewed 300 s before they expire
    advance_clock(500);
    is(sign_in(new_ua(), 'mi_app', '/app/mi-later')->code, 200, 'later: signed in');
    is(imds_calls() - $n0, 1, '... still the first token (not yet due for renewal)');
    advance_clock(120);
    is(sign_in(new_ua(), 'mi_app', '/app/mi-renewed')->code, 200, 'near expiry: signed in');
    is(imds_calls() - $n0, 2, '... with the token renewed, 5 minutes before it expired');
}

# ------------------------------------------------ refused by Entra --------
for my $case ([ 'no federated credential', { federated_issuer => undef, federated_subject => undef }, 'AADSTS70021' ],
              [ 'another subject',         { federated_subject => '0f0e0d0c-0000-4000-8000-000000000001' }, 'AADSTS700213' ]) {
    my ($what, $cfg, $code) = @$case;
    mock_reset();
    mock_config({ %$fic, %$cfg });
    my $mark = log_mark();
    my (undef, $s) = sign_in(new_ua(), 'mi_app', '/app/refused');
    is($s->{callback} && $s->{callback}->code, 502, "$what: 502");
    ok(!find_set_cookie($s->{callback}, 'entra_session'), "$what: no session");
    my ($line) = grep { /ENTRA00207:/ } entra_problems($mark);
    ok($line, "$what: an ENTRA00207 line") or diag(join "\n", entra_lines($mark));
    like($line // '', qr/\Q$code\E/, "$what: ... with $code");
    like($line // '', qr/federated-credential create/, "$what: ... and the fix");
    like($line // '', qr/\Q$info->{mi_client_id}\E/, "$what: ... naming the identity");
}
mock_reset();

# ------------------------------------------------ endpoint down -----------
{
    my $mark = log_mark();
    my (undef, $s) = sign_in(new_ua(), 'mi_down', '/app/down');
    is($s->{callback} && $s->{callback}->code, 502, 'metadata endpoint down: 502');
    my @l = grep { /ENTRA00201:/ } entra_problems($mark);
    is(scalar @l, 1, '... one ENTRA00201 line') or diag(join "\n", entra_lines($mark));
    like($l[0] // '', qr/managed identity endpoint http:\/\/127\.0\.0\.1:1\//, '... naming the endpoint');
}

# ------------------------------------------------ endpoint slow -----------
{
    mock_config({ %$fic, slow => { imds => 4 } });
    my $n = imds_calls();
    my $mark = log_mark();
    my $t0 = Time::HiRes::time();
    my (undef, $s) = sign_in(new_ua(), 'mi_slow', '/app/slow');
    is($s->{callback} && $s->{callback}->code, 502, 'metadata endpoint slow: 502');
    cmp_ok(Time::HiRes::time() - $t0, '<', 4, '... after EntraHTTPTimeout, not the endpoint\'s 4 s');
    my @l = grep { /ENTRA00201:/ } entra_problems($mark);
    is(scalar @l, 1, '... one ENTRA00201 line');
    like($l[0] // '', qr/managed identity endpoint .*time/i, '... saying it timed out');
    $t0 = Time::HiRes::time();
    my (undef, $s2) = sign_in(new_ua(), 'mi_slow', '/app/slow-again');
    is($s2->{callback} && $s2->{callback}->code, 502, 'right after: 502 again');
    cmp_ok(Time::HiRes::time() - $t0, '<', 1.5, '... at once (the failure is remembered)');
    sleep 3;     # the mock's slow answer ends
    is(imds_calls() - $n, 1, '... one call to the endpoint, not one a request');
    mock_config({ slow => { imds => undef } });
    SKIP: {
        skip 'the module has no test clock', 2 unless EntraTest::test_clock();
        advance_clock(6);
        is(sign_in(new_ua(), 'mi_slow', '/app/slow-back')->code, 200, 'endpoint back: signed in');
        is(imds_calls() - $n, 2, '... with one new fetch');
    }
}

# ------------------------------------------------ App Service protocol ----
# A server on App Service: IDENTITY_ENDPOINT's answer for X-IDENTITY-HEADER
# (the server's environment holds both), as the app's credential.
{
    require EntraStores;
    mock_config({ %$fic });
    local $ENV{IDENTITY_HEADER} = $info->{mi_identity_header} // 'mock-identity-header-3f9a';
    # the metadata endpoint by name (localhost), Entra by address; a proxy in
    # the server's environment that nothing answers on, bypassed for the
    # address only: the identity's token is fetched anyway, never through a
    # proxy (its X-IDENTITY-HEADER is a secret)
    my $endpoint = 'http://localhost:' . EntraTest::mock_port() . '/msi/token';
    local $ENV{IDENTITY_ENDPOINT} = $endpoint;
    local $ENV{http_proxy} = 'http://127.0.0.1:1';
    local $ENV{no_proxy} = '127.0.0.1';
    my $S = eval {
        EntraStores::start_apache(name => 'mi_appservice_env', secret => undef, extra => <<"EOC") };
EntraManagedIdentity $info->{mi_client_id}
EntraManagedIdentityEndpoint $endpoint appservice
EOC
    ok($S, 'a server with an App Service identity starts') or diag($@);
    SKIP: {
        skip 'no server', 6 unless $S;
        my $n = imds_calls();
        my $final = EntraTest::sign_in_url(new_ua(), $S->url('/app/as-ok'));
        is($final->code, 200, 'App Service identity: signed in, its endpoint not through http_proxy');
        my $st = mock_stats();
        is($st->{requests}{imds} - $n, 1, '... one call to IDENTITY_ENDPOINT');
        my $last = $st->{last}{imds} || {};
        is($last->{query}{'api-version'}, '2019-08-01', '... App Service\'s api-version');
        is($last->{identity_header}, $ENV{IDENTITY_HEADER}, '... with X-IDENTITY-HEADER');
        is($st->{last}{token}{auth_method}, 'federated', '... sent as a federated client assertion');
        ok(!grep({ index($_, $ENV{IDENTITY_HEADER}) >= 0 } EntraTest::log_file_since($S->error_log, 0)),
           '... the X-IDENTITY-HEADER value is in no log line');
        $S->stop;
    }
}
{
    my $mark = log_mark();
    my (undef, $s) = sign_in(new_ua(), 'mi_appservice', '/app/as');
    is($s->{callback} && $s->{callback}->code, 500, 'appservice without $IDENTITY_HEADER: 500 (a set-up fault)');
    ok(scalar(grep { /ENTRA00211:.*IDENTITY_HEADER/ } entra_problems($mark)), '... the log says what is missing');
}

done_testing();
