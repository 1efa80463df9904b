# mailplay's remote helper, file operations: the probes and writes most
# tasks make, answered inside the helper without starting a process (a
# `sh -c` plus a coreutil cost the host 5-7 ms of CPU per probe; these
# cost microseconds). Loaded before helper.pl's request loop, which calls
# them through %NATIVE. Only perl-base modules: Digest::SHA and
# Digest::MD5 are not in perl-base, so `digest` answers 5 without them and
# mailplay runs `sha1sum` instead.
#
# Each operation takes the request's fields and returns (rc, stdout,
# stderr): rc 0 done, 3 absent, 4 larger than the limit, 5 not available
# on this host, 1 failed (stderr says why). They run as the helper's user,
# which is the become user when there is one (sudo/su start the helper).
#
# Every login compiles this script, so what it loads is host CPU on every
# run (callgrind, perl 5.36): `use warnings` costs 8.5 M instructions
# (perl -w gives the same warnings for nothing), Fcntl's `:mode` tag 12 M
# (the names below: 0.3 M), `%!` 4 M, IO::Handle (for fsync) 28 M, POSIX
# 34 M; the helper itself about 9 M. So: named imports only, O_SYNC
# instead of fsync, POSIX only for what is rare (lchown, a relative path).
use strict;
use Fcntl qw(S_ISLNK S_ISDIR S_ISREG S_ISFIFO S_ISSOCK O_RDONLY O_WRONLY O_CREAT O_EXCL O_NOFOLLOW O_NONBLOCK O_SYNC);

# [path, follow "0"|"1"] -> kind, octal mode, uid, gid, owner, group, size,
# mtime, link target; NUL-separated, since a path may hold any other byte.
# A path that cannot be stat'ed at all is absent, as the shell probe
# (`[ -e p ] || [ -L p ]`) had it; with follow a dangling link is absent.
sub op_stat {
  my ($path, $follow) = @_;
  my @st = $follow ? stat($path) : lstat($path);
  return (3, '', '') unless @st;
  my $m = $st[2];
  my $kind = S_ISLNK($m) ? 'l' : S_ISDIR($m) ? 'd' : S_ISREG($m) ? 'f' : 'o';
  my $link = $kind eq 'l' ? (readlink($path) // '') : '';
  # Names through NSS, as GNU stat; the number when the id has none.
  my $owner = getpwuid($st[4]) // $st[4];
  my $group = getgrgid($st[5]) // $st[5];
  (0, join("\0", $kind, sprintf('%o', $m & 07777), $st[4], $st[5], $owner, $group, $st[7], $st[9], $link), '');
}

# Opens for reading without blocking on a FIFO (a helper stuck in open()
# would not notice mailplay giving up on it); refuses what is not data.
sub open_data {
  my ($path) = @_;
  if (!sysopen(my $fh, $path, O_RDONLY | O_NONBLOCK)) {
    my $e = "$!";
    return (undef, -e $path ? (1, '', "mailplay: cannot read $path: $e\n") : (3, '', ''));
  } else {
    my @st = stat($fh);
    return (undef, 1, '', "mailplay: cannot read $path: Is a directory\n") if S_ISDIR($st[2]);
    return (undef, 1, '', "mailplay: cannot read $path: not a regular file\n") if S_ISFIFO($st[2]) || S_ISSOCK($st[2]);
    binmode $fh;
    return ($fh, @st);
  }
}

# [path, limit] -> the content; 4 when it is longer than the limit (checked
# as it is read, since /proc files announce no size).
sub op_read {
  my ($path, $limit) = @_;
  my ($fh, @r) = open_data($path);
  return @r unless $fh;
  return (4, '', "mailplay: $path is larger than $limit bytes\n") if $r[7] > $limit;
  my $buf = '';
  while (1) {
    my $n = sysread($fh, $buf, 1 << 20, length $buf);
    return (1, '', "mailplay: reading $path: $!\n") unless defined $n;
    last unless $n;
    return (4, '', "mailplay: $path is larger than $limit bytes\n") if length($buf) > $limit;
  }
  (0, $buf, '');
}

# [path, limit] -> op_stat's fields (without follow), then for a regular
# file a NUL and its content: what copy and the text editors look at
# first, in one round trip instead of two.
sub op_statread {
  my ($path, $limit) = @_;
  my @s = op_stat($path, 0);
  return @s if $s[0] != 0 || substr($s[1], 0, 1) ne 'f';
  my @r = op_read($path, $limit);
  return @r if $r[0] != 0;
  (0, "$s[1]\0$r[1]", '');
}

# [path, algorithm] -> the hex digest of the file's content.
my %SHA_BITS = (sha1 => 1, sha224 => 224, sha256 => 256, sha384 => 384, sha512 => 512);
sub op_digest {
  my ($path, $alg) = @_;
  my $d;
  if ($alg eq 'md5') { return (5, '', '') unless eval { require Digest::MD5; 1 }; $d = Digest::MD5->new; }
  elsif ($SHA_BITS{$alg}) { return (5, '', '') unless eval { require Digest::SHA; 1 }; $d = Digest::SHA->new($SHA_BITS{$alg}); }
  else { return (1, '', "mailplay: unknown checksum algorithm $alg\n"); }
  my ($fh, @r) = open_data($path);
  return @r unless $fh;
  $d->addfile($fh);
  (0, $d->hexdigest, '');
}

# [path] -> where the path finally points, as `readlink -f`: every
# component but the last must exist; no more than 40 links.
sub op_realpath {
  my ($path) = @_;
  return (1, '', "mailplay: empty path\n") unless length $path;
  my @todo = split m{/}, ($path =~ m{^/} ? $path : do { require POSIX; POSIX::getcwd() } . "/$path");
  my (@done, $links);
  while (@todo) {
    my $c = shift @todo;
    next if $c eq '' || $c eq '.';
    if ($c eq '..') { pop @done; next; }
    my $cur = '/' . join('/', @done, $c);
    if (-l $cur) {
      return (1, '', "mailplay: $path: too many levels of symbolic links\n") if ++$links > 40;
      my $t = readlink($cur);
      return (1, '', "mailplay: readlink $cur: $!\n") unless defined $t;
      @done = () if $t =~ m{^/};
      unshift @todo, split(m{/}, $t);
      next;
    }
    return (1, '', "mailplay: $cur: not a directory or absent\n") if @todo && !-d $cur;
    push @done, $c;
  }
  (0, '/' . join('/', @done), '');
}

sub random_hex {
  open(my $r, '<', '/dev/urandom') or die "mailplay: /dev/urandom: $!\n";
  my $b = '';
  read($r, $b, 9) == 9 or die "mailplay: /dev/urandom: short read\n";
  unpack('H*', $b);
}

# [path, octal mode or "", owner or "", group or "", content]: the
# atomic write. A temporary file with a random name beside the target,
# O_CREAT|O_EXCL|O_NOFOLLOW and mode 0600 at creation, then the final owner
# (fchown) and mode (fchmod) on the descriptor, all before any content is
# written; then the content, rename. O_SYNC makes each write return only
# once the data and the file's metadata are on disk (what fsync after the
# last write did; an empty file has no data to wait for), so the rename
# never publishes a file still in flight. So the file is never readable
# with more permissions than its final ones, a planted symlink is never
# followed, and the content (a secret, perhaps) is on no command line.
sub op_write {
  my ($path, $mode, $owner, $group) = @_;
  my $dir = $path =~ m{^(.*)/[^/]*$} ? ($1 eq '' ? '/' : $1) : '.';
  my @st = stat($path);
  my $m = length $mode ? oct($mode) : (@st ? $st[2] & 07777 : 0644);
  my ($uid, $gid) = (-1, -1);
  if (length $owner) { $uid = $owner =~ /^\d+$/ ? $owner : getpwnam($owner); return (1, '', "mailplay: no such user: $owner\n") unless defined $uid; }
  if (length $group) { $gid = $group =~ /^\d+$/ ? $group : getgrnam($group); return (1, '', "mailplay: no such group: $group\n") unless defined $gid; }
  my ($fh, $tmp);
  for (1 .. 20) {
    $tmp = "$dir/.mailplay." . random_hex();
    last if sysopen($fh, $tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_SYNC, 0600);
    # EEXIST is 17 on every Linux architecture (errno-base.h); %! would
    # load Errno.
    return (1, '', "mailplay: cannot create a temporary file in $dir: $!\n") unless $! == 17;
    undef $fh;
  }
  return (1, '', "mailplay: cannot create a temporary file in $dir\n") unless $fh;
  my $ok = eval {
    # Keep the replaced file's owner where allowed (as Ansible does), then
    # what the task says; the mode last, since chown clears set-id bits.
    chown($st[4], $st[5], $fh) if @st;
    if ($uid != -1 || $gid != -1) { chown($uid, $gid, $fh) or die "mailplay: cannot give $tmp owner $owner group $group: $!\n"; }
    chmod($m, $fh) or die "mailplay: cannot chmod $tmp: $!\n";
    my $off = 0;
    while ($off < length $_[4]) { my $w = syswrite($fh, $_[4], (length($_[4]) - $off), $off); die "mailplay: writing $tmp: $!\n" unless defined $w; $off += $w; }
    close($fh) or die "mailplay: closing $tmp: $!\n";
    rename($tmp, $path) or die "mailplay: cannot rename $tmp to $path: $!\n";
    1;
  };
  if (!$ok) { my $e = $@; unlink $tmp; return (1, '', $e); }
  (0, '', '');
}

# chmod as GNU chmod with a numeric mode of four digits at most (what the
# shell path ran): a directory keeps the set-user-ID and set-group-ID bits
# the mode does not name; anything else gets the mode as it is.
sub chmod_like_gnu {
  my ($path, $mode) = @_;
  my $m = oct($mode);
  my @st = stat($path);
  return (1, '', "chmod: cannot access '$path': $!\n") unless @st;
  $m |= $st[2] & 06000 if S_ISDIR($st[2]);
  chmod($m, $path) or return (1, '', "chmod: changing permissions of '$path': $!\n");
  (0, '', '');
}

# [path, octal mode or ""]: `mkdir -p` (new folders get the umask's mode),
# then the mode on the last one if given.
sub op_mkdir {
  my ($path, $mode) = @_;
  my $cur = $path =~ m{^/} ? '' : '.';
  for my $c (split m{/}, $path) {
    next if $c eq '';
    $cur .= "/$c";
    next if -d $cur || mkdir($cur);
    my $e = "$!";
    # Made meanwhile by someone else: as good.
    return (1, '', "mkdir: cannot create directory '$cur': $e\n") unless -d $cur;
  }
  return chmod_like_gnu($path, $mode) if length $mode;
  (0, '', '');
}

# [path, owner or "", group or "", octal mode or ""]: `chown -h`, `chgrp
# -h` (the link itself, not what it points to), then chmod; names first,
# then numbers, as chown takes them.
sub op_attrs {
  my ($path, $owner, $group, $mode) = @_;
  if (length $owner || length $group) {
    my ($uid, $gid) = (-1, -1);
    if (length $owner) { $uid = getpwnam($owner) // ($owner =~ /^\d+$/ ? $owner : undef); return (1, '', "chown: invalid user: '$owner'\n") unless defined $uid; }
    if (length $group) { $gid = getgrnam($group) // ($group =~ /^\d+$/ ? $group : undef); return (1, '', "chgrp: invalid group: '$group'\n") unless defined $gid; }
    require POSIX;
    POSIX::lchown($uid, $gid, $path) or return (1, '', "chown: changing ownership of '$path': $!\n");
  }
  return chmod_like_gnu($path, $mode) if length $mode;
  (0, '', '');
}

# [] -> the helper's user name, as `id -un` (which a login ran before).
sub op_whoami {
  my $name = getpwuid($<);
  defined $name ? (0, "$name\n", '') : (1, '', "id: cannot find name for user ID $<\n");
}

our %NATIVE = (whoami => \&op_whoami, stat => \&op_stat, statread => \&op_statread, read => \&op_read, digest => \&op_digest, realpath => \&op_realpath, write => \&op_write,
  mkdir => \&op_mkdir, attrs => \&op_attrs);
