#!/bin/bash
#
# setup.sh: install the Debian packages that building and testing Garivini
# need, and only those that are missing.
#
# Called by `make test`, `make run` and .ci/run, so the common case (nothing
# missing) must stay one dpkg-query and no apt at all.

set -euo pipefail

PACKAGES=(
	gcc make pkg-config
	libgearman-dev libmariadb-dev libjansson-dev libinih-dev check
	default-libmysqlclient-dev
	gearman-job-server gearman-tools
	mariadb-server mariadb-client galera-4 rsync
	libgearman-client-perl libdbd-mariadb-perl libjson-perl perl
	groff-base man-db valgrind
	clang libclang-rt-14-dev
	build-essential dpkg-dev debhelper fakeroot lintian adduser
)

# One dpkg-query for all of them: a package never installed is reported on
# stderr and left out of stdout, one half-installed (removed, config-files
# only) shows a status other than "install ok installed".
installed=$(dpkg-query -W -f='${Package} ${Status}\n' "${PACKAGES[@]}" \
	2>/dev/null || true)

missing=()
for p in "${PACKAGES[@]}"; do
	if ! grep -qxF "$p install ok installed" <<<"$installed"; then
		missing+=("$p")
	fi
done

if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi

echo "setup: missing Debian packages: ${missing[*]}"

if [ "$(id -u)" -eq 0 ]; then
	as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
	as_root=(sudo -n)
else
	echo "setup: not root and no password-less sudo; install them with:" >&2
	echo "  apt-get install ${missing[*]}" >&2
	exit 1
fi

# mariadb-server and gearman-job-server may start their system services on
# install; harmless, the tests run private servers on free ports.
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
	apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "setup: installed ${missing[*]}"
