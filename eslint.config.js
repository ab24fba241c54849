// Lint is part of `npm test`. Type errors are caught by `tsc -b`; this adds the
// habits tsc does not check (unused code, floating mistakes, no console in crypto code).
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["**/dist/**", "**/node_modules/**", "**/*.d.ts", "conclave-data/**", ".test-tmp/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        console: "readonly", process: "readonly", setTimeout: "readonly", clearTimeout: "readonly",
        setInterval: "readonly", clearInterval: "readonly", URL: "readonly", TextEncoder: "readonly",
        TextDecoder: "readonly", performance: "readonly", crypto: "readonly", Buffer: "readonly",
        globalThis: "readonly", queueMicrotask: "readonly", structuredClone: "readonly",
      },
    },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
      "no-constant-condition": ["error", { checkLoops: false }],
    },
  },
  {
    // Key and frame code must never print: a log line is a leak waiting to happen.
    files: ["packages/protocol/src/**/*.ts"],
    rules: { "no-console": "error" },
  },
  {
    // The web app and its E2EE worker run in browsers. Nothing there may print: frames, keys and
    // passcodes pass through this code, and users see errors in the UI, not the console.
    files: ["packages/web/src/**/*.ts"],
    languageOptions: {
      globals: {
        window: "readonly", document: "readonly", navigator: "readonly", location: "readonly", history: "readonly",
        localStorage: "readonly", fetch: "readonly", WebSocket: "readonly", Worker: "readonly", self: "readonly",
        MediaStream: "readonly", MediaStreamTrack: "readonly", RTCPeerConnection: "readonly", RTCRtpSender: "readonly",
        RTCRtpReceiver: "readonly", RTCRtpScriptTransform: "readonly", DOMException: "readonly", MessageEvent: "readonly",
        CloseEvent: "readonly", ReadableStream: "readonly", WritableStream: "readonly", TransformStream: "readonly",
        HTMLElement: "readonly", HTMLInputElement: "readonly", HTMLDialogElement: "readonly", MouseEvent: "readonly",
        URLSearchParams: "readonly", AudioContext: "readonly", requestAnimationFrame: "readonly",
      },
    },
    rules: { "no-console": "error" },
  },
);
