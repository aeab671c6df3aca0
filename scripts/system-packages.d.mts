export function readPackageList(text: string): string[];

export type SystemPackagePlan =
  | { action: 'none' }
  | { action: 'install'; packages: string[] }
  | { action: 'stop'; packages: string[]; message: string };

export function planSystemPackages(facts: {
  wanted: string[];
  installed: (name: string) => boolean;
  isRoot: boolean;
  hasApt: boolean;
}): SystemPackagePlan;
