# OAuth errors from the token endpoint: invalid_grant -> 400, others -> 502.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use EntraTest;

my $vh = 'entra_main';

sub callback_with_token_error {
    my ($err) = @_;
    mock_reset();
    my $ua = new_ua();
    my $start = start_login($ua, $vh, '/app/token-error');
    my $authz = authorize_at_mock($ua, $start);
    mock_config({ token_error => $err });
    my $mark = log_mark();
    my $r = finish_callback($ua, $authz);
    my @l = entra_problems($mark);
    mock_reset();
    return ($r, @l);
}

# invalid_grant (AADSTS70043: sign-in frequency / Conditional Access)
{
    my ($r, @l) = callback_with_token_error({ error => 'invalid_grant', code => 70043, status => 400 });
    is($r->code, 400, 'token endpoint invalid_grant: 400');
    ok(length($r->content) < 4096, '... short page');
    ok(!find_set_cookie($r, 'entra_session'), '... no session');
    unlike($r->decoded_content, qr/Trace ID|Correlation ID|eyJ/, '... page does not dump the IdP answer');
    ok(scalar(grep { /70043/ } @l), '... log names AADSTS70043') or diag(join "\n", @l);
    ok(scalar(grep { /invalid_grant/ } @l), '... and invalid_grant');
}

# a code Entra already redeemed (AADSTS54005) is invalid_grant too
{
    my ($r, @l) = callback_with_token_error({ error => 'invalid_grant', code => 54005, status => 400 });
    is($r->code, 400, 'token endpoint invalid_grant (54005): 400');
    ok(scalar(grep { /54005/ } @l), '... log names AADSTS54005') or diag(join "\n", @l);
}

# other OAuth errors are the IdP's (or our configuration's) fault: 502
{
    my ($r, @l) = callback_with_token_error({ error => 'unauthorized_client', code => 700016, status => 400 });
    is($r->code, 502, 'token endpoint unauthorized_client: 502');
    ok(length($r->content) < 4096, '... short page');
    ok(scalar(grep { /700016/ } @l), '... log names AADSTS700016') or diag(join "\n", @l);
}
{
    my ($r, @l) = callback_with_token_error({ error => 'temporarily_unavailable', code => 90033, status => 503 });
    is($r->code, 502, 'token endpoint temporarily_unavailable (HTTP 503, OAuth JSON): 502');
    ok(scalar(grep { /90033/ } @l), '... log names AADSTS90033') or diag(join "\n", @l);
}

done_testing();
