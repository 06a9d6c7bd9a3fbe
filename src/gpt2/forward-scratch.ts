import { Gpt2LensError } from "../errors.ts";
import type { BackendWorkspace } from "../backend/backend.ts";

/**
 * Buffers for a forward pass's intermediates that nothing outside the pass holds, taken from the
 * backend's workspace so its matmuls read and write them in place (no staging copies, no garbage
 * per layer). There is one buffer per role (e.g. "qkv"), which every layer reuses: the caller
 * must only give a role to values that are dead before the next layer takes the same role.
 */
export interface PassScratch {
  /**
   * A buffer of exactly `floats` floats for `role` (contents unspecified); undefined when the
   * workspace cannot hold it (e.g. a large model near the 4 GiB wasm32 limit): use a plain array.
   */
  take(role: string, floats: number): Float32Array | undefined;
  /**
   * The buffers the workspace already holds for `roles` (whole, contents unspecified), for a
   * product to use as scratch (Backend.matmul's `spare`): the caller must only name roles
   * whose values are dead, and take none of them while the buffers are in use. Allocates nothing.
   */
  spare(roles: readonly string[]): Float32Array[];
  /** Ends the pass: the buffers go back to the workspace's pool of role buffers. */
  end(): void;
}

interface WorkspaceState {
  busy: boolean;
  /** Role buffers kept between passes (the memory never shrinks, so freeing them gains nothing). */
  readonly buffers: Map<string, Float32Array>;
}

const states = new WeakMap<BackendWorkspace, WorkspaceState>();

/**
 * The role buffers of `workspace` for one pass, or null when there is no workspace or another pass
 * holds them (a hook that runs the model inside a pass): that pass then allocates plain arrays.
 */
export function beginPassScratch(workspace: BackendWorkspace | undefined): PassScratch | null {
  if (workspace === undefined) return null;
  let state = states.get(workspace);
  if (state === undefined) {
    state = { busy: false, buffers: new Map() };
    states.set(workspace, state);
  }
  if (state.busy) return null;
  state.busy = true;
  const { buffers } = state;
  let ended = false;
  return {
    take(role, floats) {
      if (ended) throw new Gpt2LensError("internal", `forward scratch: "${role}" taken after the pass ended`);
      let buffer = buffers.get(role);
      if (buffer === undefined || buffer.length < floats) {
        if (buffer !== undefined) workspace.release(buffer);
        buffers.delete(role);
        try {
          buffer = workspace.alloc(floats);
        } catch {
          return undefined;
        }
        buffers.set(role, buffer);
      }
      return buffer.length === floats ? buffer : buffer.subarray(0, floats);
    },
    spare(roles) {
      if (ended) throw new Gpt2LensError("internal", "forward scratch: spare buffers asked for after the pass ended");
      return roles.flatMap((role) => buffers.get(role) ?? []);
    },
    end() {
      if (ended) return;
      ended = true;
      state.busy = false;
    },
  };
}
