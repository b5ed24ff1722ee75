package GvGalera;

# A MariaDB Galera cluster on loopback for tests/cluster (make test-cluster),
# from Debian's mariadb-server and galera-4: N nodes (3 by default) in a
# temporary directory, each with its own SQL, group communication, IST and
# SST ports, torn down at the end. A node that cannot start, or a cluster
# that does not sync, fails the test: nothing is skipped.
#
#   my $g = GvGalera->new(nodes => 3);
#   my $s = GvGalera->new(nodes => 3, galera => 0);  # independent servers
#   $ENV{GV_TEST_MYSQL} = $g->gv_test_mysql;   # GvTest uses node 1
#   $g->kill_node(1); $g->start_node(1); $g->wait_synced(1);
#
# Nodes run as the mysql user on datadirs it owns: started as root, the
# rsync state transfer cannot write its destination. State transfers use
# rsync (SST) and IST.

use strict;
use warnings;

use Carp qw(croak);
use File::Path qw(remove_tree);
use File::Temp qw(tempdir);
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);
use GvTest;

my $GALERA = '/usr/lib/galera/libgalera_smm.so';
my $SYNC_SECONDS = 120;
# Smaller than GvTest's single server: three of them run at once.
my @INNODB = ('--innodb-buffer-pool-size=128M', '--innodb-log-file-size=64M');
our $USER = 'gvroot';
our $PASSWORD = 'gvroot';

sub new {
	my ($class, %o) = @_;
	my $n = $o{nodes} // 3;
	croak "GvGalera: $GALERA is missing (install galera-4)" unless -f $GALERA;
	my ($uid, $gid) = (getpwnam('mysql'))[2, 3];
	croak 'GvGalera: no mysql user (install mariadb-server)'
	    unless defined $uid;
	my $dir = tempdir('gv-galera-XXXXXX', TMPDIR => 1, CLEANUP => 0);
	chmod(0755, $dir);
	my $self = bless { dir => $dir, n => $n, uid => $uid, gid => $gid,
	    nodes => [], owner => $$, galera => $o{galera} // 1,
	    keep => ($ENV{GV_TEST_KEEP} // '') eq '1' }, $class;
	for my $i (1 .. $n) {
		$self->{nodes}[$i] = { dir => "$dir/n$i",
		    map { $_ => GvTest::_free_port() } qw(sql gcomm ist sst) };
	}
	eval {
		$self->_install($_) for 1 .. $n;
		$self->start_node(1, bootstrap => 1);
		$self->wait_synced(1);
		$self->_create_user(1);
		for my $i (2 .. $n) {
			$self->start_node($i);
			$self->wait_synced($i);
			# A Galera node has the user by replication.
			$self->_create_user($i) unless $self->{galera};
		}
		1;
	} or do {
		my $err = $@;
		$self->teardown;
		die $err;
	};
	return $self;
}

sub _create_user {
	my ($self, $i) = @_;
	$self->_admin($i)->do("CREATE USER '$USER'\@'%' IDENTIFIED BY "
	    . "'$PASSWORD'");
	$self->_admin($i)->do("GRANT ALL PRIVILEGES ON *.* TO '$USER'\@'%' "
	    . 'WITH GRANT OPTION');
}

sub dir { $_[0]{dir} }
sub nodes { $_[0]{n} }
sub port { $_[0]{nodes}[$_[1]]{sql} }
sub pid { $_[0]{nodes}[$_[1]]{pid} }

# The hosts of a [db.N] section, in the order given (node numbers).
sub host_list {
	my ($self, @order) = @_;
	@order = 1 .. $self->{n} unless @order;
	return join(', ', map { '127.0.0.1:' . $self->port($_) } @order);
}

# GV_TEST_MYSQL for GvTest: node 1, as the cluster's admin user.
sub gv_test_mysql {
	my ($self, $i) = @_;
	return '127.0.0.1:' . $self->port($i // 1) . ":$USER:$PASSWORD";
}

sub _install {
	my ($self, $i) = @_;
	my $n = $self->{nodes}[$i];
	mkdir $n->{dir} or croak "$n->{dir}: $!";
	chown($self->{uid}, $self->{gid}, $n->{dir});
	GvTest::mariadb_install_datadir(datadir => "$n->{dir}/data",
	    user => 'mysql', log => "$n->{dir}/install.log", innodb => \@INNODB);
	system('chown', '-R', 'mysql:mysql', $n->{dir}) == 0
	    or croak "chown $n->{dir} failed";
}

sub _args {
	my ($self, $i, $bootstrap) = @_;
	my $n = $self->{nodes}[$i];
	return GvTest::mariadb_server_command(datadir => "$n->{dir}/data",
	    socket => "$n->{dir}/sock", port => $n->{sql},
	    pidfile => "$n->{dir}/pid", errlog => "$n->{dir}/err",
	    user => 'mysql', innodb => \@INNODB,
	    args => [$self->{galera} ? $self->_wsrep_args($i, $bootstrap) : ()]);
}

sub _wsrep_args {
	my ($self, $i, $bootstrap) = @_;
	my $n = $self->{nodes}[$i];
	my $peers = join(',', map { "127.0.0.1:$self->{nodes}[$_]{gcomm}" }
	    1 .. $self->{n});
	return ('--binlog-format=ROW', '--innodb-autoinc-lock-mode=2',
	    '--wsrep-on=ON', "--wsrep-provider=$GALERA",
	    '--wsrep-cluster-name=gvtest',
	    "--wsrep-cluster-address=gcomm://$peers",
	    "--wsrep-node-address=127.0.0.1:$n->{gcomm}",
	    "--wsrep-node-name=n$i",
	    "--wsrep-provider-options=gmcast.listen_addr=tcp://127.0.0.1:"
	    . "$n->{gcomm};ist.recv_addr=127.0.0.1:$n->{ist}",
	    '--wsrep-sst-method=rsync',
	    "--wsrep-sst-receive-address=127.0.0.1:$n->{sst}",
	    ($bootstrap ? ('--wsrep-new-cluster') : ()));
}

# Start node i (bootstrap: it forms a new cluster; else it joins).
sub start_node {
	my ($self, $i, %o) = @_;
	my $n = $self->{nodes}[$i];
	croak "node $i is running" if $n->{pid};
	delete $n->{dbh};
	my $out = "$n->{dir}/out";
	$n->{pid} = GvTest::_fork_exec(cmd => [$self->_args($i,
	    $o{bootstrap})], stdout => $out, stderr => $out);
	return $n->{pid};
}

sub _reap {
	my ($self, $i, $timeout) = @_;
	my $n = $self->{nodes}[$i];
	return 1 unless $n->{pid};
	my $status = GvTest::_wait_pid($n->{pid}, $timeout);
	return 0 unless defined $status;
	delete $n->{pid};
	delete $n->{dbh};
	return 1;
}

# SIGKILL (or another signal) node i and wait until it is gone.
sub kill_node {
	my ($self, $i, $sig) = @_;
	my $n = $self->{nodes}[$i];
	croak "node $i is not running" unless $n->{pid};
	kill($sig // 'KILL', $n->{pid});
	$self->_reap($i, 120) or croak "node $i did not stop";
}

# A clean stop (TERM), as a rolling restart does.
sub stop_node { $_[0]->kill_node($_[1], 'TERM') }

sub _connect {
	my ($self, $i, %o) = @_;
	return GvTest::_connect(host => '127.0.0.1', port => $self->port($i),
	    user => $USER, password => $PASSWORD, connect_timeout => 2)
	    unless $o{root};
	return GvTest::_connect(socket => "$self->{nodes}[$i]{dir}/sock",
	    user => 'root', password => '');
}

sub _admin {
	my ($self, $i) = @_;
	my $n = $self->{nodes}[$i];
	$n->{dbh} = $self->_connect($i, root => 1)
	    unless $n->{dbh} && eval { $n->{dbh}->ping };
	return $n->{dbh};
}

# A handle on node i as the cluster's admin user.
sub dbh {
	my ($self, $i) = @_;
	return $self->_connect($i);
}

sub _status {
	my ($self, $i) = @_;
	my %s;
	eval {
		my $rows = $self->_admin($i)->selectall_arrayref(
		    "SHOW GLOBAL STATUS WHERE Variable_name IN "
		    . "('wsrep_local_state_comment', 'wsrep_ready', "
		    . "'wsrep_cluster_size')");
		%s = map { $_->[0] => $_->[1] } @$rows;
	};
	return \%s;
}

# Wait until node i is synced and ready (dies after $SYNC_SECONDS).
sub wait_synced {
	my ($self, $i, $timeout) = @_;
	my $n = $self->{nodes}[$i];
	my $deadline = time + ($timeout // $SYNC_SECONDS);
	while (time < $deadline) {
		croak "node $i exited while starting:\n"
		    . GvTest::_tail("$n->{dir}/err")
		    if $n->{pid} && waitpid($n->{pid}, WNOHANG) == $n->{pid}
		    && (delete $n->{pid});
		if (!$self->{galera}) {
			return 1 if -S "$n->{dir}/sock" &&
			    eval { $self->_admin($i) };
			sleep 0.2;
			next;
		}
		my $s = -S "$n->{dir}/sock" ? $self->_status($i) : {};
		return 1 if ($s->{wsrep_local_state_comment} // '') eq 'Synced'
		    && ($s->{wsrep_ready} // '') eq 'ON';
		sleep 0.2;
	}
	croak "node $i not synced within " . ($timeout // $SYNC_SECONDS)
	    . " s:\n" . GvTest::_tail("$n->{dir}/err");
}

# Cut node i off from the others (on: 1), or let it back (0). It stays up,
# out of the primary component: it refuses every statement with "WSREP has
# not yet prepared node for application use" on connections that stay open.
sub isolate {
	my ($self, $i, $on) = @_;
	$self->_admin($i)->do('SET GLOBAL wsrep_provider_options = '
	    . "'gmcast.isolate=" . ($on ? 1 : 0) . "'");
}

# Create database $name on server i with Garivini's schema; a handle on it.
sub create_database {
	my ($self, $i, $name) = @_;
	my $dbh = $self->dbh($i);
	$dbh->do("CREATE DATABASE $name");
	$dbh->do("USE $name");
	$dbh->do($_) for GvTest::_schema_statements();
	return $dbh;
}

# The cluster size node i sees.
sub cluster_size {
	my ($self, $i) = @_;
	return $self->_status($i)->{wsrep_cluster_size} // 0;
}

sub teardown {
	my ($self) = @_;
	return if $self->{down}++ || $$ != $self->{owner};
	for my $i (1 .. $self->{n}) {
		my $n = $self->{nodes}[$i] or next;
		next unless $n->{pid};
		kill('KILL', $n->{pid});
		$self->_reap($i, 30);
	}
	if ($self->{keep}) {
		Test::More::diag("GV_TEST_KEEP=1: kept $self->{dir}");
	} else {
		remove_tree($self->{dir});
	}
}

sub DESTROY { $_[0]->teardown }

1;
