import type { Command } from 'commander';
import { CliError } from '../client.js';

// `latchkey completion bash|zsh|fish`: a completion script made from the
// command tree itself, so it never lists a command that does not exist.

interface Node {
  readonly path: string[];
  readonly subcommands: string[];
  readonly flags: string[];
}

function nodesOf(command: Command, path: string[] = []): Node[] {
  const visible = command.commands.filter((sub) => sub.name() !== 'help');
  const flags = command.options.map((option) => option.long).filter((long): long is string => long !== undefined);
  return [{ path, subcommands: visible.map((sub) => sub.name()), flags: [...flags, '--help'] },
    ...visible.flatMap((sub) => nodesOf(sub, [...path, sub.name()]))];
}

function bash(nodes: readonly Node[]): string {
  const cases = nodes.map((node) => `    "${node.path.join(' ')}") words="${[...node.subcommands, ...node.flags].join(' ')}" ;;`).join('\n');
  return `# latchkey completion for bash: eval "$(latchkey completion bash)"
_latchkey() {
  local cur path="" i words=""
  cur="\${COMP_WORDS[COMP_CWORD]}"
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "\${COMP_WORDS[i]}" in -*) ;; *) if [ -z "$path" ]; then path="\${COMP_WORDS[i]}"; else path="$path \${COMP_WORDS[i]}"; fi ;; esac
  done
  while true; do
    case "$path" in
${cases}
    *) if [ "$path" = "\${path% *}" ]; then path=""; else path="\${path% *}"; fi; continue ;;
    esac
    break
  done
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F _latchkey latchkey
`;
}

function fish(nodes: readonly Node[]): string {
  const lines = ['# latchkey completion for fish: latchkey completion fish | source'];
  for (const node of nodes) {
    const condition = node.path.length === 0 ? '__fish_use_subcommand' : `__fish_seen_subcommand_from ${node.path[node.path.length - 1]}`;
    for (const sub of node.subcommands) lines.push(`complete -c latchkey -f -n '${condition}' -a ${sub}`);
    for (const flag of node.flags) lines.push(`complete -c latchkey -n '${condition}' -l ${flag.slice(2)}`);
  }
  return `${lines.join('\n')}\n`;
}

export function registerCompletion(program: Command): void {
  program.command('completion <shell>')
    .description('print a shell completion script: bash, zsh or fish (eval "$(latchkey completion bash)")')
    .action((shell: string) => {
      const nodes = nodesOf(program);
      if (shell === 'bash') process.stdout.write(bash(nodes));
      // zsh runs the bash script through its bash compatibility layer.
      else if (shell === 'zsh') process.stdout.write(`# latchkey completion for zsh: eval "$(latchkey completion zsh)"\nautoload -U +X bashcompinit && bashcompinit\n${bash(nodes)}`);
      else if (shell === 'fish') process.stdout.write(fish(nodes));
      else throw new CliError(`completion: unknown shell ${JSON.stringify(shell)}; expected bash, zsh or fish`, 'usage');
    });
}
