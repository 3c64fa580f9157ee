# Groups overage: over 200 groups Entra leaves `groups` out of the ID token
# and points at the retired Azure AD Graph.  The module reads the groups from
# Microsoft Graph (getMemberObjects, paged), keeps them in the session, and
# entra-group and X-Entra-Claim-groups behave exactly as with a small token.
# A Graph failure denies group-based access with a clear page and an error
# line; it never grants, and never hands the app an empty or partial list.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP ();
use EntraTest;
use EntraSeeds;

my $vh = 'app_overage';
my @listed = @{ USER->{groups} };
my @gen250 = map { generated_group($_) } 1 .. 250;

sub groups_of { my $h = shift; my $v = claim($h, 'groups'); return defined $v ? [split /,/, $v] : undef }

# ---- the small token: the reference
mock_reset();
my $small = new_ua();
my $r = sign_in($small, $vh, '/app/a001/small');
is($r->code, 200, 'small token: entra-group <listed group>: 200');
my $small_groups = groups_of(claims_of($r));
is_deeply($small_groups, \@listed, 'small token: X-Entra-Claim-groups = the token\'s groups');
is(mock_stats()->{requests}{graph_groups}, 0, 'small token: Graph is not asked');
denied_page_ok($small->get(url($vh, '/app/none/x')), '2f6a4c1e-0000-4000-8000-0000000dead0', 'small token: a group the user is not in');

# ---- groups_overage with the same two groups: identical behaviour
mock_reset();
mock_config({ groups_overage => JSON::PP::true() });
my $ov = new_ua();
my ($final, $s) = sign_in($ov, $vh, '/app/a001/forced');
is($final->code, 200, 'overage (2 groups, forced): entra-group <listed group>: 200');
my $st = mock_stats();
is($st->{requests}{graph_groups}, 1, '... resolved with one Graph call');
is($st->{last}{graph}{method}, 'POST', '... POST');
is($st->{last}{graph}{path}, '/v1.0/me/getMemberObjects', '... /v1.0/me/getMemberObjects (Microsoft Graph, not graph.windows.net)');
my $body = eval { JSON::PP->new->decode($st->{last}{graph}{body}) } || {};
ok(exists $body->{securityEnabledOnly} && JSON::PP::is_bool($body->{securityEnabledOnly}),
   '... with a boolean securityEnabledOnly');
my $h = claims_of($final);
ok(!exists $h->{'x-entra-claim-hasgroups'}, '... resolved: no hasgroups marker');
is_deeply(groups_of($h), $small_groups, '... X-Entra-Claim-groups exactly as with the small token');
ok(echo($final) && !grep({ /claim-names|claim-sources/ } keys %$h), '... no _claim_names/_claim_sources headers');
denied_page_ok($ov->get(url($vh, '/app/none/x')), '2f6a4c1e-0000-4000-8000-0000000dead0', 'forced overage: a group the user is not in');
# kept in the session: no more Graph calls
my $n = mock_stats()->{requests}{graph};
is($ov->get(url($vh, '/app/a001/again'))->code, 200, '... signed-in requests keep the groups');
is(mock_stats()->{requests}{graph}, $n, '... without asking Graph again');

# ---- 250 generated + 2 listed groups: over 200.  First with sessions in
# shmcb (the groups logic alone), then with the default cookie store (the
# README: the cookie is "chunked when big: many groups").
for my $v (['app_overage_shmcb', 'shmcb'], ['app_overage', 'cookie store']) {
    my ($vhost, $store) = @$v;
    mock_reset();
    mock_config({ user => { groups_count => 250 } });
    my $big = new_ua();
    ($final, $s) = sign_in($big, $vhost, '/app/gen150/big');
    is($final->code, 200, "$store, 252 groups: entra-group <generated group 150>: 200")
        or diag($final->status_line . "\n" . substr($final->decoded_content // '', 0, 300));
    $h = claims_of($final);
    my $g = groups_of($h) || [];
    is(scalar @$g, 252, "$store: X-Entra-Claim-groups lists all 252");
    is_deeply([sort @$g], [sort(@listed, @gen250)], "$store: exactly the user's groups");
    is(($h->{'x-test-env-groups'} || [])->[0], join(',', @$g), "$store: ENTRA_CLAIM_groups the same");
    is($big->get(url($vhost, '/app/gen250/x'))->code, 200, "$store: the last generated group: 200");
    is($big->get(url($vhost, '/app/a001/x'))->code, 200, "$store: a listed group: 200");
    denied_page_ok($big->get(url($vhost, '/app/none/x')), '2f6a4c1e-0000-4000-8000-0000000dead0',
                   "$store, 252 groups: a group the user is not in");

    # paging: graph_page_size 100 -> three pages
    mock_reset();
    mock_config({ user => { groups_count => 250 }, graph_page_size => 100 });
    my $paged = new_ua();
    ($final, $s) = sign_in($paged, $vhost, '/app/gen250/paged');
    is($final->code, 200, "$store, paged (100 per page): entra-group <generated group 250> (third page): 200");
    $st = mock_stats();
    is($st->{requests}{graph_groups}, 3, "$store: three getMemberObjects pages");
    is($st->{requests}{graph_next}, 2, "$store: two of them through \@odata.nextLink");
    $g = groups_of(claims_of($final)) || [];
    is(scalar @$g, 252, "$store: all 252 groups");
    is_deeply([sort @$g], [sort(@listed, @gen250)], "$store: no duplicates, none lost");

    # exactly 200: still in the token
    mock_reset();
    mock_config({ user => { groups_count => 198 } });
    ($final) = sign_in(new_ua(), $vhost, '/app/gen150/200');
    is($final->code, 200, "$store, exactly 200 groups (in the token): 200");
    is(mock_stats()->{requests}{graph_groups}, 0, "$store: Graph not asked");
    is(scalar(@{ groups_of(claims_of($final)) || [] }), 200, "$store: 200 in the header");
}

# ---- Graph failures: deny group access clearly, never grant, never an empty list
my @fail = (
    ['getMemberObjects 503',        { fail => { graph_groups => 503 } }],
    ['getMemberObjects 403',        { fail => { graph_groups => 403 } }],
    ['getMemberObjects malformed',  { malformed => { graph_groups => JSON::PP::true() } }],
    ['getMemberObjects dropped',    { drop => { graph_groups => JSON::PP::true() } }],
    ['second page 500',             { fail => { graph_next => 500 } }, 1],
    ['second page malformed',       { malformed => { graph_next => JSON::PP::true() } }, 1],
    ['second page dropped',         { drop => { graph_next => JSON::PP::true() } }, 1],
    # as Graph refuses it: a token without User.Read (no consent) is 403
    ['no consent for User.Read',    { graph_consented => [] }],
    # a nextLink to another host is not followed with the user's token
    ['nextLink to another host',    { graph_foreign_next_link => JSON::PP::true() }],
);
for my $f (@fail) {
    my ($what, $switch, $paged_case) = @$f;
    mock_reset();
    mock_config({ user => { groups_count => 250 }, ($paged_case ? (graph_page_size => 100) : ()), %$switch });
    my $mark = log_mark();
    my $ua = new_ua();
    # the sign-in lands on a valid-user page: it works, without groups
    ($final, $s) = sign_in($ua, $vh, '/app/plain');
    is($final->code, 200, "$what: signed in (valid-user needs no groups)");
    my $stf = mock_stats()->{requests};
    ok($stf->{graph_groups} >= 1 && (!$paged_case || $stf->{graph_next} >= 1),
       "$what: the mock's Graph was asked (the failure is its answer)");
    $h = claims_of($final);
    my $gh = $h->{'x-entra-claim-groups'};
    ok(echo($final) && (!$gh || !grep({ !length } @$gh)), "$what: no empty X-Entra-Claim-groups header")
        or diag(explain $gh);
    ok(echo($final) && (!$gh || !grep({ /\Q$gen250[0]\E/ } @$gh)), "$what: no partial list of groups either");
    is_deeply($h->{'x-entra-claim-hasgroups'}, ['true'],
              "$what: X-Entra-Claim-hasgroups: true tells the app the groups are unknown");
    ok(scalar(grep { /ENTRA[0-9]{5}:/ && /graph/i && /group/i } entra_problems($mark)),
       "$what: an error line at sign-in about the groups") or diag(join "\n", log_since($mark));

    # a group in the first page, a listed group, and one not there at all: all denied
    for my $p (['/app/gen150/x', 'generated group 150'], ['/app/a001/x', 'a listed group'],
               ['/app/none/x', 'a group the user is not in']) {
        $mark = log_mark();
        my $d = $ua->get(url($vh, $p->[0]));
        denied_page_ok($d, [qr/Graph/i, qr/group/i], "$what: entra-group $p->[1]");
        ok(scalar(grep { /\[auth_entra:error\]/ && /ENTRA[0-9]{5}:/ && /group/i } log_since($mark)),
           "$what: entra-group $p->[1]: an error line") or diag(join "\n", log_since($mark));
    }
    # a RequireAny with another way in still works
    is($ua->get(url($vh, '/app/group-or-role/x'))->code, 200, "$what: <RequireAny> group or role: the role lets the user in");
}

# ---- an @odata.nextLink to another host: the user's bearer token never
# leaves the Graph host.  The mock's "attacker" listener (another port)
# records what it gets, and would answer with a group of its own.
{
    mock_reset();
    mock_config({ groups_overage => JSON::PP::true(), graph_foreign_next_link => JSON::PP::true() });
    my $info = mock_info();
    $info->{attacker_base} or BAIL_OUT('the mock has no attacker listener');
    my $mark = log_mark();
    my $ua = new_ua();
    ($final) = sign_in($ua, $vh, '/app/plain');
    is($final->code, 200, 'foreign nextLink: signed in (valid-user)');
    is(mock_stats()->{requests}{graph_groups}, 1, '... getMemberObjects was asked once');
    is_deeply(mock_stats()->{foreign}, [], '... the other host received nothing: no request, no bearer token');
    my @l = grep { /ENTRA00213:/ && /nextLink leads off the Graph host/ } entra_lines($mark);
    is(scalar @l, 1, '... ENTRA00213: the nextLink is not followed, group-based access denied')
        or diag(join "\n", entra_lines($mark));
    unlike(join("\n", @l), qr/\Q$info->{attacker_base}\E|Bearer/, '... the line names neither the foreign URL nor a token');
    denied_page_ok($ua->get(url($vh, '/app/a001/x')), [qr/Graph/i, qr/group/i],
                   '... entra-group of a group in the first page: denied (no partial list)');
    my $g = claims_of($ua->get(url($vh, '/app/plain')))->{'x-entra-claim-groups'};
    ok(!$g || !grep({ /\Q$info->{attacker_group}\E|a001/ } @$g), '... neither the page\'s nor the attacker\'s groups reach the app');
}

mock_reset();
done_testing();
