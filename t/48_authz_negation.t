# Issue 9: authorization fails closed, negation included.  mod_authz_core
# turns a negated DENIED into NEUTRAL, which a <RequireAll> ignores: a
# provider that answered DENIED for "I don't know" let the user through
# `<RequireAll> Require valid-user + Require not entra-group X` when the
# groups were unknown (overage, Graph down at sign-in).  Now a claim that is
# missing or unknown never satisfies `Require not ...` (nor <RequireNone>),
# for every provider; known values keep their meaning.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP ();
use EntraTest;
use EntraSeeds qw(denied_page_ok);
use EntraSessions qw(api_token raw_get backend_header);

my $vh   = 'authz_negation';
my $A001 = '2f6a4c1e-0000-4000-8000-00000000a001';
my $A002 = '2f6a4c1e-0000-4000-8000-00000000a002';

# A browser signed in as the default user with these changes to its claims.
sub user_with {
    my %switch = @_;
    mock_reset();
    mock_config({ %switch });
    my $ua = new_ua();
    my $r = sign_in($ua, $vh, '/app/x');
    is($r->code, 200, 'signed in (' . JSON::PP->new->canonical->encode(\%switch) . ')')
        or diag($r->status_line);
    return $ua;
}

sub granted {
    my ($ua, $path, $what) = @_;
    my $r = $ua->get(url($vh, "$path/x"));
    is($r->code, 200, "granted: $what") or diag($r->status_line . "\n" . substr($r->decoded_content // '', 0, 400));
    ok(echo($r), "... $what: the backend answered");
}

# Denied: 403, the page, no sign-in loop, the backend not reached.
sub denied {
    my ($ua, $path, $needles, $what) = @_;
    my $r = $ua->get(url($vh, "$path/x"));
    denied_page_ok($r, $needles, "denied: $what");
    ok(!echo($r), "... $what: the backend was not reached");
}

my $overage_down = { user => { groups_count => 250 }, fail => { graph_groups => 503 } };

# ------------------------------------------------------------ entra-role --
{
    my $ua = user_with();                                     # roles Task.Read, Admin
    denied($ua, '/app/not-role', ['no app role Admin'], 'Require not entra-role Admin, the user has Admin');
    $ua = user_with(user => { roles => ['Task.Read'] });
    granted($ua, '/app/not-role', 'Require not entra-role Admin, roles present without Admin');
    $ua = user_with(user => { roles => undef });
    denied($ua, '/app/not-role', ['no app role Admin', 'no roles claim'],
           'Require not entra-role Admin, no roles claim (unknown)');
}

# ----------------------------------------------------------- entra-group --
{
    my $ua = user_with();                                     # groups A001, A002
    denied($ua, '/app/not-group', ["no membership of group $A002"], 'Require not entra-group A002, a member');
    $ua = user_with(user => { groups => [$A001] });
    granted($ua, '/app/not-group', 'Require not entra-group A002, groups present without A002');
    $ua = user_with(user => { groups => undef });
    denied($ua, '/app/not-group', ["no membership of group $A002", 'no groups claim'],
           'Require not entra-group A002, no groups claim (unknown)');

    # the hole of issue 9: over 200 groups, Graph down at sign-in
    my $mark = log_mark();
    $ua = user_with(%$overage_down);
    is(mock_stats()->{requests}{graph_groups}, 1, 'overage: the mock\'s Graph was asked (and failed)');
    denied($ua, '/app/not-group', ["no membership of group $A002", qr/Graph/],
           'Require not entra-group A002, groups overage that Graph did not resolve (unknown)');
    ok(scalar(grep { /ENTRA[0-9]{5}:/ && /Graph/ } entra_lines($mark)), '... the log says why');
    is($ua->get(url($vh, '/app/not-group/x'))->code, 403, '... asking again: 403 again');
    ok(!find_set_cookie($ua->get(url($vh, '/app/not-group/x')), qr/^entra_state_/), '... no new sign-in');

    # why not AUTHZ_GENERAL_ERROR: another way in still works
    granted($ua, '/app/any', '<RequireAny> (valid-user + not entra-group A002, unknown) or entra-role Admin: the role');
    $ua = user_with(%$overage_down, user => { groups_count => 250, roles => ['Task.Read'] });
    denied($ua, '/app/any', undef, '<RequireAny> groups unknown, no Admin');
}

# ----------------------------------------------------------- entra-claim --
{
    my $ua = user_with(user => { department => 'Sales' });
    denied($ua, '/app/not-claim', ['none of the claims department:Sales'], 'Require not entra-claim department:Sales, department Sales');
    $ua = user_with(user => { department => 'Research' });
    granted($ua, '/app/not-claim', 'Require not entra-claim department:Sales, department Research');
    denied($ua, '/app/not-claims', ['no country claim'],
           'Require not entra-claim department:Sales country:NZ, department Research, no country (unknown)');
    $ua = user_with(user => { department => 'Research', country => 'US' });
    granted($ua, '/app/not-claims', 'Require not entra-claim department:Sales country:NZ, both present, neither matches');
    $ua = user_with();                                        # no department claim
    denied($ua, '/app/not-claim', ['none of the claims department:Sales', 'no department claim'],
           'Require not entra-claim department:Sales, no department claim (unknown)');
}

# ---------------------------------------------------------- entra-tenant --
{
    my $ua = user_with();
    denied($ua, '/app/not-tenant', ['an account of a tenant other than'], 'Require not entra-tenant <the user\'s tenant>');
    granted($ua, '/app/not-tenant-other', 'Require not entra-tenant <another tenant>');
    # A validated token always has a tid (the issuer check needs it): a
    # request with no user at all is where tid is unknown. Under
    # EntraUnauthAction pass it has no user, so a Require that needs one
    # (valid-user here) sends it to sign in (t/90_isolation.t).
    my $anon = new_ua();
    my $open = $anon->get(url($vh, '/pass/x'), Accept => 'text/html');
    ok(is_login_redirect($open), 'EntraUnauthAction pass: an anonymous caller does not pass Require valid-user');
    for my $p (['/pass/not-tenant', 'entra-tenant'], ['/pass/not-group', 'entra-group']) {
        my $r = $anon->get(url($vh, "$p->[0]/x"), Accept => 'text/html');
        ok(is_login_redirect($r), "no sign-in (EntraUnauthAction pass): Require not $p->[1] <not ours>: a sign-in");
        ok(!echo($r), "... the backend was not reached");
        $r = $anon->get(url($vh, "$p->[0]/x"), Accept => 'application/json');
        is($r->code, 401, '... an API caller gets 401');
    }
}

# ----------------------------------------------------------- entra-scope --
{
    my %bearer = (
        'scp "access_as_user Tasks.Read"' => [api_token(scp => 'access_as_user Tasks.Read'), 403],
        'scp access_as_user'              => [api_token(scp => 'access_as_user'), 200],
        'an app-only token (no scp)'      => [api_token(app => 1), 403],
    );
    for my $what (sort keys %bearer) {
        my ($tok, $want) = @{ $bearer{$what} };
        for my $path ('/api/x', '/mixed/x') {
            my $r = raw_get($vh, $path, undef, Authorization => "Bearer $tok");
            is($r->code, $want, "bearer at $path: Require not entra-scope Tasks.Read, $what: $want");
            if ($want == 403) {
                ok(!echo($r), '... the backend was not reached');
                like($r->decoded_content // '', qr/a token without the scope Tasks\.Read/, '... the page says why');
            }
        }
    }
    like(raw_get($vh, '/api/x', undef, Authorization => 'Bearer ' . api_token(app => 1))->decoded_content // '',
         qr/no scp claim/, 'the app-only token: the page says the scp claim is missing');
    my $ua = user_with();
    denied($ua, '/app/not-scope', ['no scp claim'], 'a browser session (no scp): Require not entra-scope Tasks.Read');
    is(raw_get($vh, '/api/x')->code, 401, 'no token: 401 (anonymous stays a challenge, not a denial)');
}

# ------------------------------------------------------------ RequireNone --
{
    my $ua = user_with();                                     # in A002
    denied($ua, '/app/none', ["no membership of group $A002"], '<RequireNone> entra-group A002 / entra-role Billing.Admin: a member of A002');
    $ua = user_with(user => { groups => [$A001] });
    granted($ua, '/app/none', '<RequireNone>: neither');
    $ua = user_with(%$overage_down);
    denied($ua, '/app/none', [qr/Graph/], '<RequireNone>: groups unknown');
    $ua = user_with(user => { groups => [$A001], roles => undef });
    denied($ua, '/app/none', ['no roles claim'], '<RequireNone>: not in A002, but no roles claim (unknown)');

    # two negations cancel: <RequireNone><RequireAll> Require not entra-role Admin = Admin required
    $ua = user_with();
    granted($ua, '/app/double', '<RequireNone> Require not entra-role Admin: an Admin');
    $ua = user_with(user => { roles => ['Task.Read'] });
    denied($ua, '/app/double', ['the app role Admin'], '<RequireNone> Require not entra-role Admin: no Admin');
    $ua = user_with(user => { roles => undef });
    denied($ua, '/app/double', ['the app role Admin'], '<RequireNone> Require not entra-role Admin: no roles claim');
}

# ------------------------------------------------------ AuthzProviderAlias --
{
    my $ua = user_with(user => { groups => [$A001] });
    granted($ua, '/app/alias', 'Require not <alias of entra-group A002>: not a member');
    $ua = user_with();
    is($ua->get(url($vh, '/app/alias/x'))->code, 403, 'Require not <alias>: a member: 403');
    my $mark = log_mark();
    $ua = user_with(%$overage_down);
    my $r = $ua->get(url($vh, '/app/alias/x'));
    is($r->code, 500, 'Require not <alias>: groups unknown: an error, never a pass');
    ok(!echo($r), '... the backend was not reached');
    ok(scalar(grep { /ENTRA00603:/ && /AuthzProviderAlias/ } entra_lines($mark)), '... the log says why');
}

mock_reset();
done_testing();
