// Bundle entry of the microbenchmark Worker (bench/workers/micro.ts): wires in keymint's real hot-path
// functions. Plain JavaScript on purpose: these src modules need Workers types (CryptoKey, SubtleCrypto)
// that `tsc -p cli`, which type-checks bench/ with Node types, does not have. micro.ts declares their
// signatures (HotPath) and the orchestrator checks the results at run time.
import { verifyClientSecret } from "../../src/clients/verify.ts";
import { tokenEndpoint } from "../../src/http/token.ts";
import { importHmacKey as importSigningKey } from "../../src/jwt/keys.ts";
import { signJwt } from "../../src/jwt/sign.ts";
import { microWorker } from "./micro.ts";

export default microWorker({ verifyClientSecret, importSigningKey, signJwt, tokenEndpoint });
