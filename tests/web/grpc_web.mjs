// A browser-style e-service front end calling Luotsi's ContactService over gRPC-Web, with the
// Connect gRPC-Web transport from npm (the same protocol a browser's fetch speaks), and the
// service description read at run time from Luotsi's file descriptor set.
//
// usage: node grpc_web.mjs <base-url> <descriptor-set.bin> <allowed-origin> <bearer-token>
// Prints one JSON object with what it saw; exits non-zero on any failure.
import { readFileSync } from "node:fs";
import { createFileRegistry, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { createClient, ConnectError } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-node";

const [baseUrl, descriptorPath, origin, token] = process.argv.slice(2);
const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(descriptorPath)));
const ContactService = registry.getService("luotsi.v1.ContactService");
const Channel = registry.getEnum("luotsi.v1.Channel");
// The front end's own access token on every call, as a browser app would send it.
const bearer = (next) => async (req) => {
  req.header.set("authorization", `Bearer ${token}`);
  return next(req);
};
const transport = createGrpcWebTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: true, interceptors: [bearer] });
const client = createClient(ContactService, transport);
const out = {};

// Without a credential nothing is answered.
try {
  const anonymous = createClient(ContactService,
    createGrpcWebTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: true }));
  await anonymous.classify({ text: "x", channel: 1 });
  out.anonymous_code = 0;
} catch (e) {
  out.anonymous_code = ConnectError.from(e).code; // 16 = unauthenticated
}

// The dry run a front end shows before the citizen submits.
const preview = await client.classify({
  text: "Hammasta särkee kovasti, poskikin on turvonnut",
  channel: Channel.values.find(v => v.name === "CHANNEL_E_SERVICE").number,
  citizen: { language: "fi" },
});
out.classify_needs = preview.classification.needs.map(n => n.need);
out.classify_urgency = preview.classification.urgency;

const submitted = await client.submitContact({
  channel: Channel.values.find(v => v.name === "CHANNEL_E_SERVICE").number,
  idempotencyKey: "grpc-web-1",
  citizen: { language: "fi", municipality: "Joensuu" },
  text: "Hammasta särkee kovasti, poskikin on turvonnut",
  hints: { formCategory: "oral_health" },
});
out.case_id = submitted.caseId;
out.team_id = submitted.teamId;
out.citizen_message = submitted.citizenMessage;

// The case, read back with the case access token the answer carried.
const c = await client.getCase({ caseId: submitted.caseId, caseAccessToken: submitted.caseAccessToken });
out.get_case_status = c.case.status;
out.get_case_professional = c.case.professionalId;
out.get_case_reasons = c.case.routingReasons.length;
try {
  await client.getCase({ caseId: submitted.caseId, caseAccessToken: "not-the-token" });
  out.wrong_token_code = 0;
} catch (e) {
  out.wrong_token_code = ConnectError.from(e).code; // 5 = not_found
}

// Errors arrive as gRPC status in the gRPC-Web trailer, field named.
try {
  await client.submitContact({ channel: 0, idempotencyKey: "grpc-web-2", text: "x" });
  out.bad_request = "accepted";
} catch (e) {
  const err = ConnectError.from(e);
  out.bad_request_code = err.code; // 3 = invalid_argument
  out.bad_request_message = err.rawMessage;
  // The field also comes as a google.rpc.BadRequest detail (decoded by the Rust tests).
  out.bad_request_detail_types = err.details.map(d => d.type ?? d.desc?.typeName);
}

// CORS as a browser would check it: a preflight from the allowed origin and from another.
async function preflight(from) {
  const r = await fetch(`${baseUrl}/luotsi.v1.ContactService/SubmitContact`, {
    method: "OPTIONS",
    headers: {
      origin: from,
      "access-control-request-method": "POST",
      "access-control-request-headers": "content-type,x-grpc-web,x-user-agent",
    },
  });
  return r.headers.get("access-control-allow-origin");
}
out.cors_allowed = await preflight(origin);
out.cors_other = await preflight("https://elsewhere.example");
console.log(JSON.stringify(out));
