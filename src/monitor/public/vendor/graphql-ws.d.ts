// Types of the file the server sends at /monitor/vendor/graphql-ws.js: graphql-ws's own
// ES module client, from the installed package (src/monitor/serve.ts).
export * from 'graphql-ws/client';
