# JupyterHub configuration of `python3 -m autograder hub` (a class on one machine).
#
# This file is static; everything specific to a class is in the JSON file that $RNN_COURSE_HUB_SETTINGS
# names (written by autograder/hub.py): users, ports, folders, the environment the servers run in.
#
# Authentication: RosterAuthenticator below, for a local trial: each user of the roster has a password
# (from the roster's `password` column, or generated and written to <class>/passwords.txt), stored here
# only as a salted scrypt hash. For a real class replace it by the university's login, e.g.
#   c.JupyterHub.authenticator_class = "ltiauthenticator.lti13.authenticator.LTI13Authenticator"  (Canvas, Moodle)
#   c.JupyterHub.authenticator_class = "oauthenticator.generic.GenericOAuthenticator"         (OAuth2 / OIDC)
# and keep `allowed_users` / `admin_users` (or the authenticator's group settings). See the README,
# section "A class on JupyterHub".
import hashlib
import hmac
import json
import os

from jupyterhub.auth import Authenticator
from traitlets import Dict

settings = json.loads(open(os.environ["RNN_COURSE_HUB_SETTINGS"], encoding="utf-8").read())


class RosterAuthenticator(Authenticator):
    """Username and password from the class's password file (scrypt hashes)."""

    passwords = Dict(help="username -> {'salt': hex, 'hash': hex}").tag(config=True)

    async def authenticate(self, handler, data):
        username = self.normalize_username(data.get("username", ""))
        entry = self.passwords.get(username)
        if not entry:
            return None
        digest = hashlib.scrypt(data.get("password", "").encode(), salt=bytes.fromhex(entry["salt"]),
                                n=2 ** 14, r=8, p=1).hex()
        return username if hmac.compare_digest(digest, entry["hash"]) else None


c = get_config()  # noqa: F821 (JupyterHub provides it)
c.JupyterHub.ip = settings["ip"]
c.JupyterHub.port = settings["port"]
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = settings["hub_port"]
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{settings['proxy_api_port']}"
c.ConfigurableHTTPProxy.command = [settings["proxy"]]
c.JupyterHub.db_url = f"sqlite:///{settings['state']}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = f"{settings['state']}/jupyterhub_cookie_secret"
c.JupyterHub.pid_file = f"{settings['state']}/jupyterhub.pid"

c.JupyterHub.authenticator_class = RosterAuthenticator
c.RosterAuthenticator.passwords = json.loads(open(settings["passwords"], encoding="utf-8").read())
# JupyterHub 5+ lets in nobody who is not allowed: the instructor and the roster's students
c.Authenticator.allowed_users = set(settings["students"]) | {settings["instructor"]}
c.Authenticator.admin_users = {settings["instructor"]}

# Each user's server: the class's environment (JupyterLab, nbgrader, the course wheel of the student
# edition), started as that user's own system account (LocalProcessSpawner; the hub runs as root), in
# the user's home folder (mode 700: no student reads another's work).
c.Spawner.cmd = [os.path.join(settings["env"], "bin", "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120


def user_environment(spawner):
    """Students get the class's student configuration (nbgrader's assignment list; formgrader and the
    create-assignment toolbar turned off); the instructor the instructor's (formgrader on, the course)."""
    role = "instructor" if spawner.user.name == settings["instructor"] else "student"
    return settings["jupyter_config"][role]


c.Spawner.environment = {
    "JUPYTER_CONFIG_PATH": user_environment,
    "PATH": os.path.join(settings["env"], "bin") + ":/usr/local/bin:/usr/bin:/bin",
    "RNN_COURSE_DEVICE": os.environ.get("RNN_COURSE_DEVICE", ""),
}
