import assert from "node:assert/strict";
import { currentControlSocketEnv, defaultControlSocket } from "./control_socket.ts";

Deno.test("defaultControlSocket() uses XDG_RUNTIME_DIR when it is set", () => {
  const env = { XDG_RUNTIME_DIR: "/run/user/1000", uid: 1000 };
  assert.equal(defaultControlSocket(env), "/run/user/1000/realize/control.sock");
  assert.equal(
    defaultControlSocket({ XDG_RUNTIME_DIR: "/run/user/0/", uid: 0 }),
    "/run/user/0/realize/control.sock",
  );
});

Deno.test("defaultControlSocket() falls back to /run for root and /tmp for others", () => {
  assert.equal(defaultControlSocket({ uid: 0 }), "/run/realize/control.sock");
  assert.equal(defaultControlSocket({ uid: 1000 }), "/tmp/realize-1000/control.sock");
  assert.equal(
    defaultControlSocket({ XDG_RUNTIME_DIR: undefined, uid: 5 }),
    "/tmp/realize-5/control.sock",
  );
});

Deno.test("defaultControlSocket() ignores an empty or relative XDG_RUNTIME_DIR", () => {
  assert.equal(defaultControlSocket({ XDG_RUNTIME_DIR: "", uid: 0 }), "/run/realize/control.sock");
  assert.equal(
    defaultControlSocket({ XDG_RUNTIME_DIR: "run", uid: 7 }),
    "/tmp/realize-7/control.sock",
  );
});

Deno.test("currentControlSocketEnv() reads this process's environment", () => {
  const env = currentControlSocketEnv();
  assert.equal(env.uid, Deno.uid());
  assert.equal(env.XDG_RUNTIME_DIR, Deno.env.get("XDG_RUNTIME_DIR"));
});
