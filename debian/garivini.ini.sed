# The sample garivini.ini made Debian's /etc/garivini/garivini.ini:
# the package's paths, and the garivini user when started as root (the
# SysV script; systemd starts it as that user already). debian/rules
# fails the build when a line below no longer matches the sample.
s|^; with its value and default\. The values below make a development run work$|; with its value and default. This is the Debian package's copy: name your|
s|^; against a local MariaDB and gearmand; change the paths for production\.$|; databases below, then enable the service (README.Debian).|
s|^pidfile = /tmp/garivini/garivini\.pid$|pidfile = /run/garivini/garivini.pid|
s|^status_file = /tmp/garivini/status\.json$|status_file = /run/garivini/status.json|
s|^log_file = stderr$|log_file = /var/log/garivini/garivini.log|
s|^;user = garivini$|user = garivini|
s|^;group = garivini$|group = garivini|
