// Runs synthesized state machines with aws-local-stepfunctions, every Lambda Task answered by the
// real Python handler in one long-lived worker process (lambda_worker.py).
//
//   node sfn_driver.mjs plan.json > results.json
//
// plan = {
//   "worker": {"command": [python, lambda_worker.py], "env": {...}},
//   "handlers": {"<Task state name>": "lambdas.<module>"},
//   "runs": [{"kind": "machine", "definition": ASL, "input": ..., "context": {...}?}
//            | {"kind": "catalogue", "definition": ASL, "input": ..., "execution": name}]
// }
// "catalogue" plays a Distributed Map with an ItemReader and ItemBatcher, which aws-local-stepfunctions
// 3.0 does not run: it runs the states before the Map, has the worker read the object the definition's
// ItemReader names ("reader:s3:getObject:JSONL", the JSONL reader), batches the items by the definition's
// MaxItemsPerBatch, builds each item and BatchInput by evaluating the definition's own ItemSelector and
// BatchInput (a Pass state run by aws-local-stepfunctions with the Map's context object), runs the
// definition's ItemProcessor on each batch, then the states after the Map.
// Each result: {"output"} or {"error": {"name", "message"}}, plus "events" (state name, event type).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { StateMachine } from 'aws-local-stepfunctions';

const plan = JSON.parse(readFileSync(process.argv[2], 'utf8'));

// -- the Python worker: one JSON request per line in, one JSON answer per line out --------------
const worker = spawn(plan.worker.command[0], plan.worker.command.slice(1), {
  env: { ...process.env, ...plan.worker.env }, stdio: ['pipe', 'pipe', 'inherit'],
});
const pending = [];
createInterface({ input: worker.stdout }).on('line', (line) => pending.shift()(JSON.parse(line)));
worker.on('exit', (code) => { if (pending.length) { console.error(`worker exited (${code})`); process.exit(3); } });

function invoke(module, event) {
  return new Promise((resolve) => {
    pending.push(resolve);
    worker.stdin.write(JSON.stringify({ module, event }) + '\n');
  });
}

// A handler's exception reaches the state machine as Lambda reports it: Error = the exception's
// type, Cause = Lambda's JSON error document.
function localHandlers() {
  const handlers = {};
  for (const [state, module] of Object.entries(plan.handlers)) {
    handlers[state] = async (input) => {
      const answer = await invoke(module, input);
      if (answer.error) {
        const cause = JSON.stringify({ errorMessage: answer.error.message, errorType: answer.error.type });
        const error = new Error(cause);
        error.name = answer.error.type;
        throw error;
      }
      return answer.result;
    };
  }
  return handlers;
}

async function execute(definition, input, context) {
  const retryIntervalOverrides = {};  // retries happen, without the real back-off pauses
  for (const [name, state] of Object.entries(definition.States)) if (state.Retry) retryIntervalOverrides[name] = 0;
  const machine = new StateMachine(definition, { validationOptions: { checkArn: false } });
  const execution = machine.run(input, {
    overrides: { taskResourceLocalHandlers: localHandlers(), retryIntervalOverrides }, context,
  });
  const events = [];
  const collect = (async () => {
    for await (const event of execution.eventLogs) events.push({ type: event.type, state: event.state?.name });
  })();
  try {
    const output = await execution.result;
    await collect;
    return { output, events };
  } catch (error) {
    await collect.catch(() => {});
    return { error: { name: error.name, message: error.message }, events };
  }
}

async function evaluate(parameters, input, context) {
  const pass = { StartAt: 'Evaluate', States: { Evaluate: { Type: 'Pass', Parameters: parameters, End: true } } };
  return (await execute(pass, input, context)).output;
}

// The part of a definition that runs from `start`: aws-local-stepfunctions refuses unreachable states.
function from(states, start) {
  const kept = {};
  const visit = (name) => {
    if (!name || kept[name]) return;
    kept[name] = states[name];
    const state = states[name];
    [state.Next, state.Default, ...(state.Choices || []).map((c) => c.Next), ...(state.Catch || []).map((c) => c.Next)]
      .forEach(visit);
  };
  visit(start);
  return { StartAt: start, States: kept };
}

async function catalogue(run) {
  const [mapName, map] = Object.entries(run.definition.States).find(([, s]) => s.Type === 'Map' && s.ItemReader);
  const size = map.ItemBatcher.MaxItemsPerBatch;
  const executionContext = { Execution: { Name: run.execution, Input: run.input } };
  // The states before the Map (the Map itself as a Pass that ends there): their output is the Map's input.
  const head = await execute(from({ ...run.definition.States, [mapName]: { Type: 'Pass', End: true } },
    run.definition.StartAt), run.input, executionContext);
  if (head.error) return { ...head, batches: [] };
  const mapInput = head.output;
  const location = await evaluate(map.ItemReader.Parameters, mapInput, executionContext);
  const read = await invoke(`reader:${map.ItemReader.Resource.split(':::')[1]}:${map.ItemReader.ReaderConfig.InputType}`,
    location);
  if (read.error) return { error: { name: 'States.ItemReaderFailed', message: read.error.message }, events: head.events, batches: [] };
  const records = read.result;
  const batchInput = await evaluate(map.ItemBatcher.BatchInput, mapInput, executionContext);
  const batches = [];
  for (let first = 0; first < records.length; first += size) {
    const items = [];
    for (let index = first; index < Math.min(first + size, records.length); index++) {
      items.push(await evaluate(map.ItemSelector, mapInput, {
        ...executionContext, Map: { Item: { Index: index, Value: records[index] } },
      }));
    }
    const processor = { StartAt: map.ItemProcessor.StartAt, States: map.ItemProcessor.States };
    const result = await execute(processor, { Items: items, BatchInput: batchInput }, executionContext);
    batches.push(result);
    if (result.error) return { error: result.error, events: head.events, batches };
  }
  // ResultPath of the Map decides what the next state sees; the CDK app discards the Map's results.
  if (map.ResultPath !== null) return { error: { name: 'Unsupported', message: 'Map ResultPath is not null' } };
  const after = await execute(from(run.definition.States, map.Next), mapInput, executionContext);
  return { ...after, events: [...head.events.filter((e) => e.state !== mapName), ...after.events], mapInput, batches };
}

const results = [];
for (const run of plan.runs) {
  results.push(run.kind === 'catalogue' ? await catalogue(run) : await execute(run.definition, run.input, run.context));
}
worker.stdin.end();
process.stdout.write(JSON.stringify(results) + '\n');
