# A bad configuration stops `apache2 -t` (configtest) with a message naming
# the directive.  Each t/conf/bad/*.conf is a small complete config; its
# "# EXPECT: <directive>" line says which directive the message must name.
# good.conf is the control: the same frame with nothing wrong passes.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Spec;
use Cwd qw(abs_path);
use Apache::Test ();

my $cfg   = Apache::Test::config();
my $vars  = $cfg->{vars};
my $t_dir = abs_path($vars->{t_dir});
my $httpd = $vars->{httpd} or plan skip_all => 'no httpd binary known to Apache::Test';
my $so    = abs_path(File::Spec->catfile($t_dir, '..', '.libs', 'mod_auth_entra.so'));
plan skip_all => 'module not built' unless $so && -f $so;
my $moddir = $cfg->apxs('LIBEXECDIR') || '/usr/lib/apache2/modules';

local $ENV{ENTRA_T_DIR}         = $t_dir;
local $ENV{ENTRA_BAD_DIR}       = "$t_dir/conf/bad";
local $ENV{ENTRA_MODULE_SO}     = $so;
local $ENV{ENTRA_HTTPD_MODULES} = $moddir;

sub configtest {
    my $file = shift;
    my $out = `'$httpd' -t -f '$file' 2>&1`;
    return ($? >> 8, $out);
}

my ($rc, $out) = configtest("$t_dir/conf/bad/good.conf");
is($rc, 0, 'good.conf: configtest passes') or diag($out);
like($out, qr/Syntax OK/, 'good.conf: Syntax OK');

# good.conf (EntraCookieSecure Off over http) gets no warning; the default On over
# plain http passes with a warning naming where
unlike($out, qr/ENTRA00113/, 'good.conf: no warning about Secure cookies over http');
($rc, $out) = configtest("$t_dir/conf/warn/secure_over_http.conf");
is($rc, 0, 'secure_over_http.conf: configtest passes (a proxy in front may speak https)') or diag($out);
like($out, qr/ENTRA00113: \S*secure_over_http\.conf:5: EntraCookieSecure On, but this virtual host does not turn on TLS/,
     '... with a warning naming the virtual host\'s file and line') or diag($out);

# Apache has no trailing comments: values that start with '#' warn, naming
# the file and line (and the Require value), never a secret
($rc, $out) = configtest("$t_dir/conf/warn/hash_values.conf");
is($rc, 0, 'hash_values.conf: configtest passes (the values are taken literally)') or diag($out);
my @hash = grep { /ENTRA00114:/ } split /\n/, $out;
is(scalar @hash, 4, '... one ENTRA00114 warning for each of the four') or diag($out);
is(scalar(grep { /\[auth_entra:warn\]/ } @hash), 4, '... at warn') or diag($out);
for ([8, 'EntraClientSecret', ''], [9, 'EntraSessionKey', ''], [13, 'Require entra-role', ' (#)'],
     [17, 'Require entra-claim', ' (#ver:1.0)']) {
    my ($line, $what, $shown) = @$_;
    like($out, qr/ENTRA00114: \S*hash_values\.conf:$line: \Q$what\E: a value starts with '#'\Q$shown\E, and was taken literally: Apache has no trailing comments/,
         "... line $line: $what, saying Apache has no trailing comments") or diag($out);
}
unlike($out, qr/hash-started-client-secret|old-key-0123/, '... and no secret is shown');

# a secret file that exists but cannot be read (root reads anything: skip then)
my $unreadable = "$t_dir/logs/unreadable_secret.txt";
unlink $unreadable;
if (open my $u, '>', $unreadable) { print $u "unreadable-secret-value\n"; close $u; chmod 0000, $unreadable }
# a federated token file the run user cannot read (as root the run user is
# User, which base.inc does not set: skipped then)
my $unreadable_jwt = "$t_dir/logs/unreadable_assertion.jwt";
unlink $unreadable_jwt;
if (open my $u, '>', $unreadable_jwt) { print $u "eyJhbGciOiJSUzI1NiJ9.e30.c2ln\n"; close $u; chmod 0000, $unreadable_jwt }

my @bad = sort grep { !/good\.conf$/ } glob "$t_dir/conf/bad/*.conf";
@bad = grep { !/unreadable_(?:secret_mode|assertion_file)\.conf$/ } @bad if $> == 0;
ok(@bad >= 4, 'bad configurations to check: ' . scalar @bad);
for my $file (@bad) {
    my $name = (File::Spec->splitpath($file))[2];
    open my $fh, '<', $file or die "$file: $!";
    my ($expect) = map { /^#\s*EXPECT:\s*(\S+)/ ? $1 : () } <$fh>;
    close $fh;
    ok($expect, "$name: says which directive it breaks") or next;
    ($rc, $out) = configtest($file);
    isnt($rc, 0, "$name: configtest fails");
    unlike($out, qr/Syntax OK/, "$name: no Syntax OK");
    unlike($out, qr/Invalid command/i, "$name: the directive exists (not 'Invalid command')");
    like($out, qr/\Q$expect\E/, "$name: the message names $expect") or diag($out);
    unlike($out, qr/Segmentation|core dumped|Aborted/i, "$name: no crash");
}

# the unreadable federated token file: the message names the file, the
# user the server runs as and the error
if ($> != 0) {
    ($rc, $out) = configtest("$t_dir/conf/bad/unreadable_assertion_file.conf");
    my $me = getpwuid($>) // '';
    like($out, qr/ENTRA00101: .*EntraClientAssertionFile \S*unreadable_assertion\.jwt cannot be read by \Q$me\E \(uid $>\), the user the server runs as: Permission denied \(mode 0000/,
         'unreadable_assertion_file.conf: names the file, the run user, the error and the mode') or diag($out);
}

unlink $unreadable, $unreadable_jwt;
done_testing();
