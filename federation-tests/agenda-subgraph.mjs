// A second subgraph, as an agency of the network would run it beside Rete:
// the agenda of Consultorio Centro. It extends Rete's `Case` and `Person`
// entities (keyed by `id`) with fields of its own, and its root field returns
// references to Rete's records, so the gateway must ask Rete for them through
// `_entities`.
//
// Like Rete, it needs the caller's token (the gateway forwards it). It only
// reads the token's `agency` claim to pick the appointments that agency takes
// part in; a real service would verify the signature first.

import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import { startStandaloneServer } from '@apollo/server/standalone';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { GraphQLError, parse } from 'graphql';

export const typeDefs = parse(`#graphql
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key"])

  "A meeting booked in the consultorio's own agenda."
  type Appointment {
    id: ID!
    "ISO 8601 date and time."
    at: String!
    "What the meeting is for, e.g. PSYCHOLOGICAL_SUPPORT."
    service: String!
    "The case, as Rete holds it (null with an error when Rete does not disclose it)."
    case: Case
    "The person met, as Rete holds them."
    person: Person
  }

  type Case @key(fields: "id") {
    id: ID!
    "Meetings booked for the case in the consultorio's agenda."
    appointments: [Appointment!]!
  }

  type Person @key(fields: "id") {
    id: ID!
    "The consultorio's own file number for the person."
    consultorioFileNumber: String
  }

  type Query {
    "The appointments the caller's agency takes part in."
    agenda: [Appointment!]!
    "One appointment by id."
    appointment(id: ID!): Appointment
  }
`);

// The caller's claims, read (not verified) from the forwarded bearer token.
function claims(authorization) {
  const m = /^Bearer (.+)$/i.exec(authorization ?? '');
  if (!m) {
    throw new GraphQLError('the agenda needs the caller\'s bearer token', {
      extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } },
    });
  }
  const payload = m[1].split('.')[1] ?? '';
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
}

// `appointments`: [{ id, at, service, caseId, personId, agencies: [agency ids] }].
export async function startAgenda(appointments) {
  const toAppointment = (a) => ({
    id: a.id,
    at: a.at,
    service: a.service,
    case: { id: a.caseId },
    person: { id: a.personId },
  });
  const resolvers = {
    Query: {
      agenda: (_, __, ctx) =>
        appointments.filter((a) => a.agencies.includes(ctx.claims.agency)).map(toAppointment),
      appointment: (_, { id }) => {
        const a = appointments.find((x) => x.id === id);
        return a ? toAppointment(a) : null;
      },
    },
    Case: {
      __resolveReference: (ref) => ({ id: ref.id }),
      appointments: (c) => appointments.filter((a) => a.caseId === c.id).map(toAppointment),
    },
    Person: {
      __resolveReference: (ref) => ({ id: ref.id }),
      consultorioFileNumber: (p) => `CC-${p.id.slice(0, 8).toUpperCase()}`,
    },
  };
  const server = new ApolloServer({
    schema: buildSubgraphSchema({ typeDefs, resolvers }),
    plugins: [ApolloServerPluginInlineTraceDisabled()],
  });
  const { url } = await startStandaloneServer(server, {
    listen: { host: '127.0.0.1', port: 0 },
    context: async ({ req }) => ({ claims: claims(req.headers.authorization) }),
  });
  return { url, stop: () => server.stop() };
}
