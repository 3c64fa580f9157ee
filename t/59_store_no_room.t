# The README's "Errors an administrator sees" row for a session the store
# has no room for (ENTRA00420), checked as t/57_errors_table.t checks the
# others: a private server whose shmcb is far too small for one session
# (EntraSessionStore socache shmcb:<file>(16384): one sub-cache of about
# 16 KB, where the session is about 20 KB) answers the sign-in with 500 and
# a page that says so, sets no session cookie, and logs ENTRA00420 once, at
# error, saying what to do.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Spec;
use Apache::Test ();
use EntraTest;
use EntraStores;

my $shm = File::Spec->catfile(Apache::Test::vars('t_logs'), 'shmcb_no_room');
mock_reset();
my $S = eval { start_apache(name => 'no_room', store => "socache shmcb:$shm(16384)") };
ok($S, 'a server with a 16 KB shmcb starts') or diag($@);
plan skip_all => 'no server' unless $S;

# a session of some 20 KB that no compression shrinks much (claims of random text)
my $noise = join '', map { ('A' .. 'Z', 'a' .. 'z', 0 .. 9)[int rand 62] } 1 .. 20_000;
mock_config({ user => { noise => $noise } });
my $mark = $S->log_mark;
my ($final, $s) = sign_in_url(new_ua(), $S->url('/app/no-room'));
mock_reset();
my $r = $s->{callback};
is($r && $r->code, 500, 'a session the store has no room for: 500');
like($r ? $r->decoded_content : '', qr/more information than this server can keep/, '... a page that says so');
ok($r && !find_set_cookie($r, qr/^entra_session(?:_\d+)?$/), '... no session cookie');

my @all = grep { /ENTRA\d{5}:/ } $S->log_since($mark);
my @id = grep { /\bENTRA00420:/ } @all;
is(scalar @id, 1, 'one ENTRA00420 line') or diag(join "\n", @all);
like($id[0] // '', qr/\[auth_entra:error\]/, '... at error');
like($id[0] // '', qr/no room for a session of \d+ bytes .*shmcb:<file>\(<bytes>\)/,
     '... saying why and what to change');

# a small session still fits: the store works, only the big one is refused
is(sign_in_url(new_ua(), $S->url('/app/small'))->code, 200, 'a small session on the same server: signed in');

$S->stop;
done_testing();
