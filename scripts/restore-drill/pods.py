"""Runs pods rendered by `helm template` with plain Docker, as the kubelet would.

The restore drill uses it to run the chart's own backup CronJob, restore Job,
migration Job and app Deployment exactly as rendered: the same images,
commands, arguments, environment (env and envFrom ConfigMaps), Secrets
(projected from the rendered Secret objects), volumes and security context.
What it supports is what the chart renders; anything else (valueFrom,
sidecars, a projected ServiceAccount token, …) is refused rather than
silently skipped, so a chart change cannot make the drill test less.

Kubernetes → Docker:
  init containers          run one after the other; the pod fails if one fails
  containers               a Job's run to completion; a Deployment's detached
  emptyDir                 a Docker volume, mode 0777 like an emptyDir
                           (sizeLimit is the kubelet's; not enforced here)
  projected/secret volume  a Docker volume holding the rendered Secrets' keys
  configMap volume         a Docker volume holding the rendered ConfigMap's keys
  volumeClaimTemplates     a Docker volume, root:fsGroup 2775 like a fresh PVC
                           under fsGroup (a StatefulSet's pod)
  runAsUser/Group, fsGroup --user UID:GID --group-add FSGROUP
  readOnlyRootFilesystem   --read-only
  capabilities drop ALL    --cap-drop ALL
  allowPrivilegeEscalation --security-opt no-new-privileges
  Service names            network aliases: the caller's, and `aliases` for
                           the pod itself (the Service that selects it)
"""

import base64
import subprocess

import yaml


class PodError(Exception):
    pass


def docker(*args, input=None, check=True):
    run = subprocess.run(["docker", *args], input=input, capture_output=True)
    if check and run.returncode != 0:
        raise PodError(f"docker {' '.join(args[:3])}…: {run.stderr.decode(errors='replace').strip()}")
    return run


class Manifests:
    """The objects of one `helm template` output."""

    def __init__(self, text):
        self.docs = [d for d in yaml.safe_load_all(text) if d]

    def get(self, kind, name):
        for d in self.docs:
            if d["kind"] == kind and d["metadata"]["name"] == name:
                return d
        raise PodError(f"{kind}/{name} is not in the rendered chart")

    def pod_template(self, kind_name):
        kind, name = kind_name.split("/", 1)
        obj = self.get(kind, name)
        if kind == "CronJob":
            return obj["spec"]["jobTemplate"]["spec"]["template"]
        return obj["spec"]["template"]

    def secret_data(self, name):
        secret = self.get("Secret", name)
        return {k: base64.b64decode(v) for k, v in secret.get("data", {}).items()}

    def config_map(self, name):
        return self.get("ConfigMap", name).get("data", {})

    def add(self, doc):
        """Adds an object the cluster would hold without the chart rendering
        it (a Secret an operator made: an `existingSecret`)."""
        self.docs.append(doc)

    def volume_claim_templates(self, kind_name):
        kind, name = kind_name.split("/", 1)
        if kind != "StatefulSet":
            return []
        return self.get(kind, name)["spec"].get("volumeClaimTemplates", [])


class Pod:
    """One run of a rendered pod template. `name` prefixes its containers
    and volumes (unique per run); `network` is the Docker network on which
    the caller runs the services the pod reaches (under their Service names);
    `image_map` may rename images and names the `helper` image (one with
    /bin/sh) that prepares volumes."""

    def __init__(self, manifests, kind_name, name, network, image_map=None, aliases=()):
        self.m = manifests
        self.aliases = list(aliases)
        self.kind_name = kind_name
        self.template = manifests.pod_template(kind_name)
        self.spec = self.template["spec"]
        self.name = name
        self.network = network
        self.image_map = image_map or {}
        self.volumes = {}
        self.containers = []

    # -- volumes ---------------------------------------------------------------

    def _volume(self, suffix):
        vol = f"{self.name}-{suffix}"
        docker("volume", "create", vol)
        self.volumes[suffix] = vol
        return vol

    def _helper(self, vol, script, input=None):
        """Runs `sh -c script` as root with the volume at /v (any image with a shell)."""
        image = self.image_map.get("helper")
        if not image:
            raise PodError("image_map['helper'] (an image with /bin/sh) is required")
        docker("run", "--rm", "-i", "--user", "0", "--network", "none",
               "--mount", f"type=volume,src={vol},dst=/v,volume-nocopy",
               "--entrypoint", "/bin/sh", image, "-c", script, input=input)

    def _make_volumes(self):
        fs_group = self.spec.get("securityContext", {}).get("fsGroup", 0)
        for claim in self.m.volume_claim_templates(self.kind_name):
            # The kubelet gives a volume of a pod with fsGroup to that group,
            # group-writable and setgid.
            vol = self._volume(claim["metadata"]["name"])
            self._helper(vol, f"chown 0:{fs_group} /v && chmod 2775 /v")
        for v in self.spec.get("volumes", []):
            name = v["name"]
            if "emptyDir" in v:
                vol = self._volume(name)
                self._helper(vol, "chmod 0777 /v")
            elif "configMap" in v:
                data = self.m.config_map(v["configMap"]["name"])
                mode = v["configMap"].get("defaultMode", 0o644)
                items = v["configMap"].get("items") or [{"key": k, "path": k} for k in data]
                vol = self._volume(name)
                for item in items:
                    if item["key"] not in data:
                        raise PodError(f"{self.kind_name}: ConfigMap {v['configMap']['name']} has no key {item['key']}")
                    self._helper(vol, f"cat > '/v/{item['path']}' && chown 0:{fs_group} '/v/{item['path']}' "
                                      f"&& chmod {mode:o} '/v/{item['path']}'", input=data[item["key"]].encode())
            elif "projected" in v or "secret" in v:
                files = {}
                mode = 0o440
                if "secret" in v:
                    sources = [{"secret": {"name": v["secret"]["secretName"], "items": v["secret"].get("items")}}]
                    mode = v["secret"].get("defaultMode", mode)
                else:
                    sources = v["projected"]["sources"]
                    mode = v["projected"].get("defaultMode", mode)
                for source in sources:
                    if "secret" not in source:
                        raise PodError(f"{self.kind_name}: volume {name}: only Secret sources are supported, got {list(source)}")
                    data = self.m.secret_data(source["secret"]["name"])
                    for item in source["secret"].get("items") or [{"key": k, "path": k} for k in data]:
                        if item["key"] not in data:
                            raise PodError(f"{self.kind_name}: Secret {source['secret']['name']} has no key {item['key']}")
                        files[item["path"]] = data[item["key"]]
                vol = self._volume(name)
                for path, content in files.items():
                    self._helper(vol, f"cat > '/v/{path}' && chown 0:{fs_group} '/v/{path}' && chmod {mode:o} '/v/{path}'",
                                 input=content)
            else:
                raise PodError(f"{self.kind_name}: volume {name}: kind {list(v)} is not supported")

    # -- containers ------------------------------------------------------------

    def _env(self, c):
        env = {}
        for source in c.get("envFrom", []):
            if "configMapRef" not in source:
                raise PodError(f"{c['name']}: envFrom {list(source)} is not supported")
            env.update(self.m.config_map(source["configMapRef"]["name"]))
        for e in c.get("env", []):
            if "value" not in e:
                raise PodError(f"{c['name']}: env {e['name']}: only literal values are supported")
            env[e["name"]] = e["value"]
        return env

    def _run_args(self, c, detach, publish):
        pod_sc = self.spec.get("securityContext", {})
        sc = {**pod_sc, **c.get("securityContext", {})}
        cname = f"{self.name}-{c['name']}"
        args = ["run", "--name", cname, "--network", self.network]
        for alias in self.aliases:
            args += ["--network-alias", alias]
        args += ["-d"] if detach else []
        for container_port, host in (publish or {}).items():
            args += ["-p", f"{host}:{container_port}"]
        if "runAsUser" in sc:
            args += ["--user", f"{sc['runAsUser']}:{sc.get('runAsGroup', sc['runAsUser'])}"]
        if "fsGroup" in pod_sc:
            args += ["--group-add", str(pod_sc["fsGroup"])]
        if sc.get("readOnlyRootFilesystem"):
            args += ["--read-only"]
        if "ALL" in sc.get("capabilities", {}).get("drop", []):
            args += ["--cap-drop", "ALL"]
        if sc.get("allowPrivilegeEscalation") is False:
            args += ["--security-opt", "no-new-privileges"]
        for key, value in self._env(c).items():
            args += ["-e", f"{key}={value}"]
        for m in c.get("volumeMounts", []):
            vol = self.volumes[m["name"]]
            ro = ",readonly" if m.get("readOnly") else ""
            args += ["--mount", f"type=volume,src={vol},dst={m['mountPath']},volume-nocopy{ro}"]
        command = c.get("command", [])
        if command:
            args += ["--entrypoint", command[0]]
        image = self.image_map.get(c["image"], c["image"])
        args += [image, *command[1:], *c.get("args", [])]
        return cname, args

    def run(self, publish=None, log=print):
        """Runs the pod. A Job's pod (restartPolicy Never) runs to completion
        and raises PodError if a container fails; otherwise the containers
        are left running. Returns the main containers' names."""
        if self.spec.get("serviceAccountName") and self.spec.get("automountServiceAccountToken") is not False:
            raise PodError(f"{self.kind_name}: would mount an API token")
        self._make_volumes()
        for c in self.spec.get("initContainers", []):
            if c.get("restartPolicy") == "Always":
                raise PodError(f"{self.kind_name}: sidecar {c['name']} is not supported")
            self._run_to_completion(c, log)
        job = self.spec.get("restartPolicy") == "Never"
        names = []
        for c in self.spec["containers"]:
            if job:
                self._run_to_completion(c, log)
            else:
                cname, args = self._run_args(c, detach=True, publish=publish)
                self.containers.append(cname)
                docker(*args)
            names.append(f"{self.name}-{c['name']}")
        return names

    def _run_to_completion(self, c, log):
        cname, args = self._run_args(c, detach=False, publish=None)
        self.containers.append(cname)
        run = docker(*args, check=False)
        # The container's last line (what it did), or its tail when it failed.
        lines = (run.stdout + run.stderr).decode(errors="replace").strip().splitlines()
        for line in lines[-40:] if run.returncode != 0 else lines[-1:]:
            log(f"  [{self.kind_name} {c['name']}] {line}")
        if run.returncode != 0:
            raise PodError(f"{self.kind_name}: container {c['name']} exited {run.returncode}")

    def logs(self):
        out = []
        for c in self.containers:
            run = docker("logs", c, check=False)
            out.append((run.stdout + run.stderr).decode(errors="replace"))
        return "\n".join(out)

    def delete(self):
        for c in self.containers:
            docker("rm", "-f", "-v", c, check=False)
        for vol in self.volumes.values():
            docker("volume", "rm", "-f", vol, check=False)
        self.containers, self.volumes = [], {}
