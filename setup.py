"""pip install for the ROS-free part of vla_ros (models, simulator, training, command line).

The ROS 2 package itself is built by colcon from CMakeLists.txt and package.xml; this file lets a
machine without ROS (a GPU training box, say) `pip install .` and run `vla-ros`.
"""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent


def read_requirements(name: str) -> list[str]:
    """Requirement lines of requirements/<name>, without comments."""
    lines = (HERE / "requirements" / name).read_text().splitlines()
    return [line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()]


def read_version() -> str:
    """The version declared in package.xml (the one source of it)."""
    for line in (HERE / "package.xml").read_text().splitlines():
        if "<version>" in line:
            return line.split("<version>")[1].split("</version>")[0]
    raise RuntimeError("package.xml declares no <version>")


def _shipped(path: Path) -> bool:
    """A file of models/ that installs with the package."""
    return path.is_file() and not path.name.endswith(".resume.pt")


setup(
    name="vla_ros",
    version=read_version(),
    description="Hierarchical vision-language-action stack for ROS 2: the ROS-free core and CLI",
    long_description=(HERE / "README.md").read_text(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["vla_ros", "vla_ros.*"]),
    data_files=[
        ("share/vla_ros/config", [str(p) for p in sorted(Path("config").glob("*.yaml"))]),
        ("share/vla_ros/config/robots", [str(p) for p in sorted(Path("config/robots").glob("*.yaml"))]),
        ("share/vla_ros/urdf", [str(p) for p in sorted(Path("urdf").glob("*")) if p.is_file()]),
        *(  # trained models; not the training state kept for --resume
            (f"share/vla_ros/{folder}", [str(p) for p in sorted(folder.glob("*")) if _shipped(p)])
            for folder in sorted({p.parent for p in Path("models").rglob("*") if _shipped(p)})
        ),
    ],
    install_requires=read_requirements("ml.txt"),
    extras_require={"dev": read_requirements("dev.txt")},
    entry_points={"console_scripts": ["vla-ros = vla_ros.cli:main"]},
)
