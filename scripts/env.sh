# Source me (bash): puts the venv of scripts/setup.sh and the built workspace on the path.
#
#   source scripts/env.sh
#
# Afterwards `vla-ros`, `ros2 run`-style executables under install/vla_ros/lib/vla_ros, rclpy and the
# package's interfaces (vla_ros.msg, vla_ros.action) are available. Sourcing twice is harmless.
# Environment: VLA_ROS_VENV (default <repo>/.venv); ROS_AUTOMATIC_DISCOVERY_RANGE defaults to
# LOCALHOST (set it to SUBNET to talk to other machines); ROS_DOMAIN_ID is left as it is.

_vla_ros_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
_vla_ros_venv=${VLA_ROS_VENV:-$_vla_ros_root/.venv}
_vla_ros_install=$_vla_ros_root/install/vla_ros
_vla_ros_site=$_vla_ros_venv/lib/python3.11/site-packages

if [ ! -x "$_vla_ros_venv/bin/python" ]; then
    echo "vla_ros: no venv at $_vla_ros_venv; run scripts/setup.sh first" >&2
    return 1 2>/dev/null || exit 1
fi

# Prepend $2 to the path variable named $1 unless it is already there.
_vla_ros_prepend() {
    local current=${!1:-}
    case ":$current:" in *":$2:"*) ;; *) export "$1=$2${current:+:$current}" ;; esac
}

export VIRTUAL_ENV=$_vla_ros_venv
_vla_ros_prepend PATH "$_vla_ros_venv/bin"
_vla_ros_prepend PATH "$_vla_ros_install/bin"
_vla_ros_prepend AMENT_PREFIX_PATH "$_vla_ros_venv"
# Every package colcon installed: vla_ros, and where setup.sh built it, the tests' control_msgs stand-in.
for _vla_ros_package in "$_vla_ros_root"/install/*/; do
    _vla_ros_package=${_vla_ros_package%/}
    _vla_ros_prepend PYTHONPATH "$_vla_ros_package/lib/python3.11/site-packages"
    _vla_ros_prepend AMENT_PREFIX_PATH "$_vla_ros_package"
    _vla_ros_prepend LD_LIBRARY_PATH "$_vla_ros_package/lib"
done
_vla_ros_prepend CMAKE_PREFIX_PATH "$_vla_ros_venv"

# The shared libraries of the ROS wheels. Setting them here, with the guard variable of the wheels'
# bootstrapper, spares every Python process its re-execution.
for _vla_ros_libs in "$_vla_ros_site"/ros_*.libs; do
    [ -d "$_vla_ros_libs" ] && _vla_ros_prepend LD_LIBRARY_PATH "$_vla_ros_libs"
done
_vla_ros_prepend LD_LIBRARY_PATH "$_vla_ros_venv/lib"
export _ROS_WHEELS_BOOTSTRAP_COMPLETE=1

export RMW_IMPLEMENTATION=${RMW_IMPLEMENTATION:-rmw_fastrtps_cpp}
export ROS_AUTOMATIC_DISCOVERY_RANGE=${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}
export PYTHONUNBUFFERED=1

unset _vla_ros_root _vla_ros_venv _vla_ros_install _vla_ros_site _vla_ros_libs _vla_ros_package
unset -f _vla_ros_prepend
