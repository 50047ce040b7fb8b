#!/usr/bin/env bash
# Installs what the `mpi` feature needs, from Debian, when it is missing:
#   openmpi-bin     mpirun and Open MPI's runtime
#   libopenmpi-dev  the headers and mpicc, which rsmpi's build script asks for the flags
#   libclang-dev    libclang, which bindgen (run by rsmpi's build script) loads
# Idempotent and quiet: when everything is installed it only asks dpkg (well under a
# second) and changes nothing. Runs apt-get as root, or through sudo when that exists.
# The crate without the `mpi` feature needs none of this.
set -euo pipefail

packages=(openmpi-bin libopenmpi-dev libclang-dev)

missing=()
for package in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$package" 2>/dev/null || true)
    if [[ "$status" != ii* ]]; then
        missing+=("$package")
    fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
    exit 0
fi

if [[ $(id -u) -eq 0 ]]; then
    as_root=()
elif command -v sudo >/dev/null; then
    as_root=(sudo)
else
    echo "install-mpi.sh: ${missing[*]} missing, and this is neither root nor has sudo;" \
        "install them with your package manager" >&2
    exit 1
fi

echo "install-mpi.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
install() {
    "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
# The package lists are fetched only when the install cannot find what it needs with the
# lists already there (a fresh container has none).
if ! install 2>/dev/null; then
    "${as_root[@]}" apt-get update -qq >/dev/null
    install
fi
command -v mpirun >/dev/null || { echo "install-mpi.sh: mpirun still missing" >&2; exit 1; }
