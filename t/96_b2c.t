# Azure AD B2C (EntraPolicy): discovery per policy, authorize and token
# endpoints from that document (the policy in their path), the issuer with
# its trailing slash, the policy checked in tfp, REMOTE_USER from emails
# (an array: its first element).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use EntraTest;
use EntraSeeds;
use EntraSessions;

my $tid = TENANT;
my $policy = 'B2C_1_signupsignin';

mock_reset();
my $mark = log_mark();
my ($final, $s) = sign_in(new_ua(), 'b2c_app', '/app/b2c');
is($final->code, 200, 'B2C: signed in') or diag(join "\n", entra_lines($mark));
like($s->{authorize_url} // '', qr{/b2c\.contoso\.test/\Q$policy\E/oauth2/v2\.0/authorize\?},
     '... at the policy\'s authorize endpoint, from discovery');
my $st = mock_stats();
is($st->{last}{token}{grant_type} // 'authorization_code', 'authorization_code', '... the code redeemed');
is(remote_user(claims_of($final)), USER->{email}, '... REMOTE_USER: the first of emails');
my $tfp = claim(claims_of($final), 'tfp');
is($tfp, $policy, '... the backend sees the policy (tfp)');
is(scalar(entra_problems($mark)), 0, '... and nothing in the log');

# a token of another policy
mock_config({ b2c_tfp => 'B2C_1_passwordreset' });
$mark = log_mark();
(undef, $s) = sign_in(new_ua(), 'b2c_app', '/app/other-policy');
is($s->{callback} && $s->{callback}->code, 401, 'a token of another policy: refused');
ok(scalar(grep { /ENTRA00208:.*B2C_1_passwordreset.*EntraPolicy B2C_1_signupsignin/ } entra_problems($mark)),
   '... ENTRA00208 names both policies') or diag(join "\n", entra_lines($mark));

# policy names are compared without regard to case, as B2C does
mock_config({ b2c_tfp => 'b2c_1_SignUpSignIn' });
is(sign_in(new_ua(), 'b2c_app', '/app/case')->code, 200, 'the policy in another case: signed in');

# a token of another issuer
mock_reset();
mock_config({ bad_token => 'wrong_iss' });
$mark = log_mark();
(undef, $s) = sign_in(new_ua(), 'b2c_app', '/app/wrong-iss');
is($s->{callback} && $s->{callback}->code, 401, 'another issuer: refused');
ok(scalar(grep { /ENTRA00208:.*issuer.*b2clogin\.com\/\Q$tid\E\/v2\.0\// } entra_problems($mark)),
   '... the log names the expected issuer, trailing slash and all');
mock_reset();

# The API: every user flow of a B2C tenant shares its issuer and keys, so a
# bearer token is held to the policy too (tfp), as an ID token is.
{
    my $call = sub {
        my ($policy) = @_;
        my $token = api_token(b2c_policy => $policy, tid => $tid);
        return new_ua()->get(url('b2c_app', '/api/echo'), Authorization => "Bearer $token");
    };
    is($call->($policy)->code, 200, 'the API: an access token of EntraPolicy\'s user flow: accepted');
    $mark = log_mark();
    my $r = $call->('B2C_1_passwordreset');
    is($r->code, 401, '... one of another user flow (password reset): refused');
    like($r->header('WWW-Authenticate') // '', qr/error="invalid_token"/, '... invalid_token');
    ok(scalar(grep { /ENTRA00703:.*B2C_1_passwordreset.*EntraPolicy B2C_1_signupsignin/ } entra_lines($mark)),
       '... the log names both policies (ENTRA00703)') or diag(join "\n", entra_lines($mark));
}

done_testing();
